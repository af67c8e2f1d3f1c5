package abuse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metricFlood posts 1 MiB batches of 1,000 samples on 4 connections for
// 20 s, then asks for 16 summaries of a day at once.
func metricFlood(ctx context.Context, t Target) (Outcome, error) {
	var batch bytes.Buffer
	batch.WriteByte('[')
	pad := strings.Repeat(" ", 700)
	for i := range 1000 {
		if i > 0 {
			batch.WriteByte(',')
		}
		fmt.Fprintf(&batch, `{"usersched_pid":4242,"nr_queued":%d,"nr_scheduled":%d,"nr_running":2,"nr_online_cpus":8,"nr_user_dispatches":%d,`+
			`"nr_kernel_dispatches":50,"nr_cancel_dispatches":2,"nr_bounce_dispatches":1,"nr_failed_dispatches":0,"nr_sched_congested":3%s}`, i, i%7, i*3, pad)
	}
	batch.WriteByte(']')
	body := batch.Bytes()
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var samples atomic.Int64
	codes := &statusCounts{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := &http.Client{Timeout: 30 * time.Second}
			for fctx.Err() == nil {
				req, _ := http.NewRequestWithContext(fctx, http.MethodPost, t.URL+"/api/v1/metrics", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Do(req)
				if err != nil {
					if fctx.Err() == nil {
						codes.add(0)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes.add(resp.StatusCode)
				if resp.StatusCode == http.StatusOK {
					samples.Add(1000)
				}
			}
		})
	}
	wg.Wait()
	summaries := &statusCounts{}
	var slowest atomic.Int64
	var sw sync.WaitGroup
	for range 16 {
		sw.Go(func() {
			start := time.Now()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.URL+"/api/v1/metrics/summary?window=24h", nil)
			resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
			if err != nil {
				summaries.add(0)
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				summaries.add(resp.StatusCode)
			}
			if d := int64(time.Since(start)); d > slowest.Load() {
				slowest.Store(d)
			}
		})
	}
	sw.Wait()
	return Outcome{Notes: fmt.Sprintf("%d samples acknowledged (posts%s); 16 summaries%s, slowest %s",
		samples.Load(), codes, summaries, time.Duration(slowest.Load()).Round(time.Millisecond))}, nil
}
