// Command get-history is the Lambda function of the GetHistory route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("GetHistory") }
