package bssctl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/bss-api/bss-api/client"
)

// maxStrategyFileBytes bounds what apply reads: far above the server's own
// bound on a stored set (--max-strategies-bytes, 4 MiB by default).
const maxStrategyFileBytes = 64 << 20

// readStrategies reads strategies from a YAML or JSON file, in any of these
// forms (YAML documents separated by ---, each one of them):
//
//   - one strategy: {name: upf, priority: 5, execution_time: 20000000, …}
//   - a list of strategies (what get definitions -o yaml prints)
//   - the body of POST /api/v1/scheduling/strategies: {strategies: […]}
//
// Fields are the API's; an unknown or duplicated field is an error naming
// it, and so is a strategy without a name (apply writes each by name).
func readStrategies(r io.Reader, source string) ([]client.Strategy, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxStrategyFileBytes+1))
	if err != nil {
		return nil, usagef("%s: %w", source, err)
	}
	if len(data) > maxStrategyFileBytes {
		return nil, usagef("%s: over %d bytes", source, maxStrategyFileBytes)
	}
	var all []client.Strategy
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, usagef("%s: %w", source, err)
		}
		list, err := decodeDocument(doc)
		if err != nil {
			return nil, usagef("%s: document %d: %s", source, n, oneLine(err.Error()))
		}
		all = append(all, list...)
	}
	if len(all) == 0 {
		return nil, usagef("%s: no strategy in it", source)
	}
	seen := map[string]bool{}
	for i, s := range all {
		if s.Name == "" {
			return nil, usagef("%s: strategy %d has no name; apply writes each strategy by its name", source, i+1)
		}
		if seen[s.Name] {
			return nil, usagef("%s: strategy %q is given twice", source, s.Name)
		}
		seen[s.Name] = true
	}
	return all, nil
}

// decodeDocument decodes one YAML or JSON document.
func decodeDocument(doc []byte) ([]client.Strategy, error) {
	js, err := yaml.YAMLToJSONStrict(doc) // strict: a key given twice is an error
	if err != nil {
		return nil, err
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || string(js) == "null" {
		return nil, nil // an empty document, as between two ---
	}
	switch js[0] {
	case '[':
		var list []client.Strategy
		if err := strictJSON(js, &list); err != nil {
			return nil, err
		}
		return list, nil
	case '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(js, &probe); err != nil {
			return nil, err
		}
		if _, ok := probe["strategies"]; ok {
			var body struct {
				Strategies []client.Strategy `json:"strategies"`
			}
			if err := strictJSON(js, &body); err != nil {
				return nil, err
			}
			return body.Strategies, nil
		}
		var s client.Strategy
		if err := strictJSON(js, &s); err != nil {
			return nil, err
		}
		return []client.Strategy{s}, nil
	}
	return nil, fmt.Errorf("want a strategy, a list of strategies or {strategies: [...]}, got %.20s", js)
}

// strictJSON decodes js into v, refusing unknown fields.
func strictJSON(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	return nil
}
