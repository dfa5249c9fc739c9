// Command close-period is the Lambda function of the ClosePeriod route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("ClosePeriod") }
