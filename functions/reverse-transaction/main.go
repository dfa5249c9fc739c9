// Command reverse-transaction is the Lambda function of the ReverseTransaction route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("ReverseTransaction") }
