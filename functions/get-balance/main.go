// Command get-balance is the Lambda function of the GetBalance route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("GetBalance") }
