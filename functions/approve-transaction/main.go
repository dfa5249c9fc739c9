// Command approve-transaction is the Lambda function of the ApproveTransaction route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("ApproveTransaction") }
