package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// relabel runs internal/app's TestWatchRelabelEndToEnd with
// BSS_WATCH_RELABELS=n and prints the latency line it logs. The test owns
// the private control plane, the cgroups and the processes it needs, and
// cleans them up; it needs root and BSS_CONTROLPLANE_BIN_DIR.
func relabel(ctx context.Context, n int, stdout, stderr io.Writer) error {
	if os.Getenv("BSS_CONTROLPLANE_BIN_DIR") == "" {
		return fmt.Errorf("set BSS_CONTROLPLANE_BIN_DIR to the directory hack/controlplane/build.sh prints")
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestWatchRelabelEndToEnd$", "-v", "./internal/app")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "BSS_WATCH_RELABELS="+strconv.Itoa(n), "BSS_TEST_STRICT=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if _, line, ok := strings.Cut(sc.Text(), "relabel → waiting client: "); ok {
			fmt.Fprintf(stdout, "relabel of a pod → waiting client holds the new answer (test kube-apiserver):\n  %s\n\n", line)
			return runErr
		}
	}
	fmt.Fprintf(stderr, "%s\n", out.Bytes())
	if runErr != nil {
		return fmt.Errorf("go test: %w", runErr)
	}
	return fmt.Errorf("the test printed no latency line")
}
