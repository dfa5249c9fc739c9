// Command token prints one JWT that the running local stack accepts.
//
//	go run ./infra/cmd/token -sub u_alice -tenant t_demo -scopes "admin"
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/treasuryledger/treasury/infra/localauth"
)

func main() {
	sub := flag.String("sub", "u_alice", "user id (sub claim)")
	tenant := flag.String("tenant", "t_demo", "organisation id (tenant claim)")
	scopes := flag.String("scopes", "admin", "space-separated permissions (scope claim)")
	dir := flag.String("data", ".local", "local data folder holding the signing key")
	ttl := flag.Duration("ttl", 12*time.Hour, "token lifetime")
	flag.Parse()
	key, err := localauth.LoadOrCreateKey(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
	tok, err := localauth.Sign(key, localauth.Token{Sub: *sub, Tenant: *tenant, Scope: *scopes, TTL: *ttl}, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
	fmt.Println(tok)
}
