// Command render executes an Ollama Modelfile TEMPLATE the way Ollama does, for ec-miip's tests.
//
// Input on stdin: {"template": "...", "cases": [{"System": ..., "Messages": [...], "Think": ..., "IsThinkSet": ...}]}.
// Output on stdout: a JSON array with one rendered string per case. The data types mirror the field
// names Ollama gives a template (template.Values and api.Message), so a field a case leaves out is
// its zero value, as in Ollama, never "<no value>". Standard library only.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

type Message struct {
	Role     string
	Content  string
	Thinking string
}

type Values struct {
	System     string
	Messages   []Message
	Tools      []any
	Prompt     string
	Response   string
	Think      bool
	IsThinkSet bool
}

func main() {
	var in struct {
		Template string   `json:"template"`
		Cases    []Values `json:"cases"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail(err)
	}
	// The same options and extra function Ollama's template.Parse uses.
	funcs := template.FuncMap{"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }}
	tmpl, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(in.Template)
	if err != nil {
		fail(err)
	}
	out := make([]string, 0, len(in.Cases))
	for i, c := range in.Cases {
		var b strings.Builder
		if err := tmpl.Execute(&b, c); err != nil {
			fail(fmt.Errorf("case %d: %w", i, err))
		}
		out = append(out, b.String())
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
