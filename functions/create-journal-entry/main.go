// Command create-journal-entry is the Lambda function of the CreateJournalEntry route.
package main

import "github.com/treasuryledger/treasury/shared/lambdaapi"

func main() { lambdaapi.Start("CreateJournalEntry") }
