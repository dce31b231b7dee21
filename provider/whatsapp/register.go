package whatsapp

import (
	"github.com/switchboard-dev/switchboard/provider/internal/metagraph"
	"github.com/switchboard-dev/switchboard/provider/registration"
)

func init() {
	registration.Add(Name, metagraph.Provider(metagraph.Product{Name: Name, Object: Product.Object, Fields: Product.Fields, Account: "waba"}))
}
