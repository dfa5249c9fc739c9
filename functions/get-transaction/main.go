// Command get-transaction is the Lambda function of the GetTransaction route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("GetTransaction") }
