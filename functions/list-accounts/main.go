// Command list-accounts is the Lambda function of the ListAccounts route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("ListAccounts") }
