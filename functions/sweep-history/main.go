// Command sweep-history is the Lambda function that, every minute, numbers
// the history of any hot account whose lines waited too long: the stream's
// backstop.
package main

import "github.com/treasuryledger/treasury/shared/sequencer"

func main() { sequencer.StartSweep() }
