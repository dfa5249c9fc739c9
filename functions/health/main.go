// Command health is the Lambda function of the Health route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("Health") }
