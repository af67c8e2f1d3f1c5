package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/bss-api/bss-api/client"
)

// fakeServer answers like a bss-api whose strategies change once: the
// first answer boosts PID 718001 (priority as a bool, the default format),
// the next one boosts it with an integer level (--priority-format=int) and
// adds PID 717720. A conditional request waits until then.
func fakeServer() *httptest.Server {
	var once sync.Once
	changed := make(chan struct{})
	answers := []string{
		`{"success":true,"version":1,"scheduling":[{"priority":true,"execution_time":20000000,"pid":718001}]}`,
		`{"success":true,"version":2,"scheduling":[{"priority":0,"execution_time":10000000,"pid":717720},{"priority":2,"execution_time":20000000,"pid":718001}]}`,
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/metrics":
			_, _ = io.WriteString(w, `{"success":true,"message":"Metrics received successfully","stored":1}`)
		case r.URL.Path == "/api/v1/scheduling/strategies/definitions/loki":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"success":false,"error":"execution_time: must be from 1000 to 10000000000 nanoseconds (1µs to 10s), got 5"}`)
		case r.Header.Get("If-None-Match") == `"v1"`:
			once.Do(func() { time.AfterFunc(10*time.Millisecond, func() { close(changed) }) })
			<-changed
			w.Header().Set("ETag", `"v2"`)
			_, _ = io.WriteString(w, answers[1])
		default:
			w.Header().Set("ETag", `"v1"`)
			_, _ = io.WriteString(w, answers[0])
		}
	}))
}

// A scheduler that polls: post its counters, read the strategies, apply
// them. On any error it keeps the map it has.
func Example() {
	srv := fakeServer()
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL) // on a node: "http://127.0.0.1:8080"
	if err != nil {
		panic(err)
	}
	if _, err := c.PostMetrics(ctx, client.Metrics{UserschedLastRunAt: 1750329000, NrQueued: 4, NrOnlineCPUs: 8}); err != nil {
		fmt.Println("keep going without metrics:", err)
	}
	s, err := c.Strategies(ctx)
	if err != nil {
		fmt.Println("keep the previous map:", err)
		return
	}
	for _, e := range s.Scheduling {
		fmt.Printf("pid %d: priority level %d, slice %s\n", e.PID, e.Priority, time.Duration(e.ExecutionTime))
	}
	// Output:
	// pid 718001: priority level 1, slice 20ms
}

// A scheduler that watches: each new answer arrives as soon as the server
// has it. The function runs once per answer; returning an error ends the
// watch.
func ExampleClient_WatchStrategies() {
	srv := fakeServer()
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := errors.New("seen enough")
	err = c.WatchStrategies(ctx, client.WatchOptions{Wait: 30 * time.Second}, func(s *client.Strategies) error {
		var pids []string
		for _, e := range s.Scheduling {
			pids = append(pids, fmt.Sprintf("%d:%d", e.PID, e.Priority))
		}
		fmt.Printf("version %d: %s\n", s.Version, strings.Join(pids, " "))
		if s.Version == 2 {
			return done
		}
		return nil
	})
	fmt.Println(errors.Is(err, done))
	// Output:
	// version 1: 718001:1
	// version 2: 717720:0 718001:2
	// true
}

// An error answer is an *APIError that says which field was wrong, and
// matches the Err* variable of its status.
func ExampleAPIError() {
	srv := fakeServer()
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithBearerToken("operator-token"))
	if err != nil {
		panic(err)
	}
	_, err = c.PutDefinition(context.Background(), "loki", client.Strategy{ExecutionTime: 5, CommandRegex: "^loki$"})
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, errors.Is(err, client.ErrBadRequest))
		fmt.Println(apiErr.Message)
	}
	// Output:
	// 400 true
	// execution_time: must be from 1000 to 10000000000 nanoseconds (1µs to 10s), got 5
}

// A scheduler on a server with credentials: the scheduler token protocol
// with the public key the server was given, a ServiceAccount token, or mTLS.
func ExampleNew() {
	publicKeyPEM := []byte("-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n")
	_, err := client.New("http://127.0.0.1:8080", client.WithSchedulerKey(publicKeyPEM))
	fmt.Println(err)
	_, err = client.New("https://bss-api.kube-system.svc:8443",
		client.WithTokenFile("/var/run/secrets/kubernetes.io/serviceaccount/token"))
	fmt.Println(err)
	// Output:
	// <nil>
	// <nil>
}

// Priority decodes from either format the server emits.
func ExamplePriority() {
	for _, body := range []string{`{"priority":true}`, `{"priority":false}`, `{"priority":3}`} {
		var e client.SchedulingEntry
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			panic(err)
		}
		fmt.Println(int(e.Priority), e.Priority.Boosted())
	}
	// Output:
	// 1 true
	// 0 false
	// 3 true
}
