// Command create-withdrawal is the Lambda function of the CreateWithdrawal route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("CreateWithdrawal") }
