package api_test

import (
	"encoding/json"
	"strconv"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
func itoa(n int) string                 { return strconv.Itoa(n) }
