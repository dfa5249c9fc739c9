// Command list-transactions is the Lambda function of the ListTransactions route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("ListTransactions") }
