// Command create-account is the Lambda function of the CreateAccount route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("CreateAccount") }
