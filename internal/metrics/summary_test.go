package metrics_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/testsupport/summarycases"
)

// The cases live in summarycases so that every store's Summary is held to
// them too (storetest).
func TestSummarize(t *testing.T) {
	for _, c := range summarycases.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			c.Check(t, metrics.Summarize(c.Recs, summarycases.From, summarycases.To))
		})
	}
}

// A Summarizer fed records one at a time, as stores feed it, answers
// exactly what Summarize answers over the same slice, whatever the
// records: restarts, huge values, batches a nanosecond apart.
func TestSummarizerMatchesSummarize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := summarycases.RandomRecords(rng, summarycases.From, 5000)
	for _, n := range []int{0, 1, 2, 17, len(recs)} {
		want := metrics.Summarize(recs[:n], summarycases.From, summarycases.To)
		z := metrics.NewSummarizer(summarycases.From, summarycases.To)
		for i := range recs[:n] {
			smp := recs[i].Sample // the store's buffer, reused per row
			z.Add(recs[i].ReceivedAt, &smp)
			smp = metrics.Sample{}
		}
		if got := z.Summary(); !reflect.DeepEqual(got, want) {
			t.Errorf("%d records: Summarizer = %+v\nSummarize = %+v", n, got, want)
		}
	}
	if s := metrics.Summarize(recs, summarycases.From, summarycases.To.Add(time.Hour)); s.Resets == 0 || len(s.Rates) == 0 {
		t.Errorf("the random records have no restarts or no rates: %+v", s)
	}
}
