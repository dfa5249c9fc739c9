package localstream

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Run follows the table's stream on DynamoDB Local at endpoint in the
// background, as Follow does, until stop is called; stop waits for the
// handler call in progress to end.
func Run(endpoint string, db *dynamodb.Client, table string, filter Filter, h Handler, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := Follow(ctx, NewClient(endpoint), db, table, filter, h, log); err != nil {
			log.Error("following the table's stream", slog.String("table", table), slog.String("error", err.Error()))
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
