package app

import (
	"net/http"
	"testing"

	"github.com/bss-api/bss-api/client"
)

// client returns a client of the public client package for srv, over the
// same HTTP client as srv.API, with every answer checked against the
// OpenAPI document.
func (s *testServer) client(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	hc := &http.Client{Transport: s.API.Validator.Transport(t, s.API.HTTP.Transport)}
	c, err := client.New(s.URL, append([]client.Option{client.WithHTTPClient(hc)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seedSample is seedMetrics as the client sends it.
var seedSample = client.Metrics{UserschedPID: 1234, NrQueued: 10, NrScheduled: 5, NrRunning: 2, NrOnlineCPUs: 8,
	NrUserDispatches: 100, NrKernelDispatches: 50, NrCancelDispatches: 2, NrBounceDispatches: 1, NrSchedCongested: 3}
