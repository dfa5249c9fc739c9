// Command update-account is the Lambda function of the UpdateAccount route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("UpdateAccount") }
