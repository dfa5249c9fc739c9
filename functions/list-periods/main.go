// Command list-periods is the Lambda function of the ListPeriods route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("ListPeriods") }
