// Command create-entry is the Lambda function of the CreateEntry route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("CreateEntry") }
