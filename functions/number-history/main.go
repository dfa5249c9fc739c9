// Command number-history is the Lambda function that numbers the history
// lines of hot accounts, fed by the table's stream.
package main

import "github.com/treasuryledger/treasury/shared/sequencer"

func main() { sequencer.Start() }
