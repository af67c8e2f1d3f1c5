package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// buildRequest returns t as the bytes of one HTTP/1.1 keep-alive request
// to host, so every send is a single write of ready-made bytes.
func buildRequest(t target, host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bss-load\r\nAccept: application/json\r\n", t.method, t.path, host)
	if t.contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", t.contentType)
	}
	if t.gzip {
		b.WriteString("Accept-Encoding: gzip\r\n")
	}
	if t.token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", t.token)
	}
	if t.body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(t.body))
	}
	b.WriteString("\r\n")
	b.Write(t.body)
	return b.Bytes()
}

// responseInfo is what the load generator needs from a response.
type responseInfo struct {
	status    int
	keepAlive bool // false when the server will close the connection
}

var errNoLength = errors.New("response has neither Content-Length nor chunked encoding")

// readResponse reads one response from br and discards its body. It is a
// small HTTP/1.1 parser for trusted loopback servers: cheaper than
// http.ReadResponse because it allocates nothing per response.
func readResponse(br *bufio.Reader, method string) (responseInfo, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return responseInfo{}, fmt.Errorf("read status line: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return responseInfo{}, fmt.Errorf("malformed status line %q", line)
	}
	status, ok := atoiDigits(line[9:12])
	if !ok {
		return responseInfo{}, fmt.Errorf("malformed status code in %q", line)
	}
	info := responseInfo{status: status, keepAlive: line[7] == '1'}
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return info, fmt.Errorf("read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			return info, fmt.Errorf("malformed header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := atoiDigits(value)
			if !ok || len(value) == 0 || len(value) > 15 {
				return info, fmt.Errorf("malformed Content-Length %q", value)
			}
			length = int64(n)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				info.keepAlive = false
			}
		}
	}
	switch {
	case method == "HEAD" || status < 200 || status == 204 || status == 304:
		return info, nil
	case chunked:
		return info, discardChunked(br)
	case length >= 0:
		if _, err := br.Discard(int(length)); err != nil {
			return info, fmt.Errorf("read body: %w", err)
		}
		return info, nil
	default:
		return info, errNoLength
	}
}

// discardChunked reads and drops a chunked body and its trailer.
func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read chunk size: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("malformed chunk size %q", line)
		}
		if size == 0 {
			break
		}
		if _, err := br.Discard(int(size) + 2); err != nil { // data and CRLF
			return fmt.Errorf("read chunk: %w", err)
		}
	}
	for { // trailer, ended by an empty line
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read trailer: %w", err)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

func atoiDigits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
