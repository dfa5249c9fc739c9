// Command reject-transaction is the Lambda function of the RejectTransaction route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("RejectTransaction") }
