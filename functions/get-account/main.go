// Command get-account is the Lambda function of the GetAccount route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("GetAccount") }
