module github.com/switchboard-dev/switchboard/filter

go 1.22
