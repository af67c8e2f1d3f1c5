package storetest

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/testsupport/summarycases"
)

// testSummary: a backend's History.Summary answers every summary case,
// and exactly what metrics.Summarize answers over the same records
// (floats to the last bit), wherever the window and the age bound fall.
func testSummary(t *testing.T, newBackend New) {
	ctx := context.Background()
	from, to := summarycases.From, summarycases.To
	for _, c := range summarycases.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			b := start(t, newBackend, Options{MaxCount: 1000, MaxAge: 24 * time.Hour, Now: func() time.Time { return to }})
			// Records just outside the window must not count.
			recs := []metrics.Record{{ReceivedAt: from.Add(-time.Nanosecond), Sample: metrics.Sample{NrQueued: 1000, NrUserDispatches: 1 << 62}}}
			recs = append(recs, c.Recs...)
			recs = append(recs, metrics.Record{ReceivedAt: to.Add(time.Nanosecond), Sample: metrics.Sample{NrQueued: 1000}})
			if err := b.History().Append(ctx, recs); err != nil {
				t.Fatal(err)
			}
			got, err := b.History().Summary(ctx, from, to)
			if err != nil {
				t.Fatal(err)
			}
			c.Check(t, got)
			if want := metrics.Summarize(c.Recs, from, to); !reflect.DeepEqual(got, want) {
				t.Errorf("Summary = %+v\nSummarize = %+v", got, want)
			}
		})
	}
	t.Run("random records", func(t *testing.T) {
		recs := summarycases.RandomRecords(rand.New(rand.NewPCG(3, 4)), from, 3000)
		end := recs[len(recs)-1].ReceivedAt
		const maxAge = time.Minute
		b := start(t, newBackend, Options{MaxCount: len(recs), MaxAge: maxAge, Now: func() time.Time { return end }})
		for i := 0; i < len(recs); i += 500 {
			if err := b.History().Append(ctx, recs[i:min(i+500, len(recs))]); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range []struct {
			name     string
			from, to time.Time
		}{
			{"the last half minute", end.Add(-30 * time.Second), end},
			{"ending before the newest record", end.Add(-40 * time.Second), end.Add(-10 * time.Second)},
			{"starting before the age bound", end.Add(-time.Hour), end},
		} {
			var in []metrics.Record
			for _, r := range recs {
				if !r.ReceivedAt.Before(w.from) && !r.ReceivedAt.After(w.to) && !r.ReceivedAt.Before(end.Add(-maxAge)) {
					in = append(in, r)
				}
			}
			want := metrics.Summarize(in, w.from, w.to)
			got, err := b.History().Summary(ctx, w.from, w.to)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Summary = %+v\nSummarize of the %d records = %+v", w.name, got, len(in), want)
			}
			if len(in) < 100 {
				t.Errorf("%s: only %d records in the window; the case tests little", w.name, len(in))
			}
		}
	})
}
