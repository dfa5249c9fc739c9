// Command list-audit is the Lambda function of the ListAudit route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("ListAudit") }
