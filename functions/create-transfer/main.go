// Command create-transfer is the Lambda function of the CreateTransfer route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("CreateTransfer") }
