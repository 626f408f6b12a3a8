// Command ollamacheck runs Ollama's own Modelfile parser and TEMPLATE engine (github.com/ollama/ollama
// at the version go.mod pins) for ec-miip's tests, which check the product's emulations against them.
//
// It reads one JSON request on stdin and writes one JSON answer on stdout:
//
//	{"op": "parse", "modelfiles": ["...", ...]}
//	  -> [{"commands": [{"name": ..., "args": ...}, ...], "string": f.String()} or {"error": "..."}, ...]
//	     one entry per text: parser.ParseFile, and Ollama's own re-serialisation of what it parsed.
//	{"op": "render", "template": "...", "cases": [{"Messages": [...], "Think": ..., "IsThinkSet": ...}, ...]}
//	  -> [{"text": "..."} or {"error": "..."}, ...] one entry per case (a template that does not parse
//	     gives its error for every case): template.Parse, then (*Template).Execute.
//
// A render case has the shape of ec-miip's Conversation.to_ollama() (Messages of Role/Content/Thinking,
// Think, IsThinkSet), but its messages must be the raw ones a client sends (after the chat handler put
// the Modelfile SYSTEM first), not collated ones, because Execute collates them itself. What Execute does
// with them (template/template.go at v0.34.4):
//
//   - collate(v.Messages) walks the messages in order. Every message whose Role is "system" adds its
//     Content to a list, joined with "\n\n" into the System value, wherever it stands in the
//     conversation (a mid-conversation system message is in System too). Consecutive messages of one
//     role (any role but "tool") are merged into the first of them: Content += "\n\n" + next Content;
//     the first one's Thinking (and other fields) are kept, the later ones' dropped. System messages
//     stay in Messages (merged the same way), so a template sees them both in .System and in .Messages.
//   - A case's "System" key is ignored: System comes only from the system messages, so the value a
//     template sees never differs from what collate computes. (Ollama's chat handler puts the Modelfile
//     SYSTEM into the messages, first, unless the request begins with a system message; Execute does
//     not see the Modelfile SYSTEM otherwise.)
//   - When the template mentions .Messages (template.Vars, any case), it is executed once with the map
//     {System, Messages (collated), Tools (nil here), Response: "", Think, ThinkLevel: "", IsThinkSet};
//     the map has no Prompt or Suffix entry, so {{ .Prompt }} renders "<no value>" there (missingkey=zero
//     on a map[string]any gives a nil interface), where the product's stdlib render.go gives "".
//   - Otherwise (a legacy Prompt/Response template) it is executed once per user/assistant exchange with
//     System/Prompt/Response, and the last exchange is cut at {{ .Response }}; Parse also appends
//     {{ .Response }} to a template that names neither .Messages nor .Response.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/parser"
	"github.com/ollama/ollama/template"
)

type request struct {
	Op         string   `json:"op"`
	Modelfiles []string `json:"modelfiles"`
	Template   string   `json:"template"`
	Cases      []struct {
		Messages []struct {
			Role     string
			Content  string
			Thinking string
		}
		Think      bool
		IsThinkSet bool
	} `json:"cases"`
}

type command struct {
	Name string `json:"name"`
	Args string `json:"args"`
}

type parsed struct {
	Commands []command `json:"commands,omitempty"`
	String   *string   `json:"string,omitempty"`
	Error    *string   `json:"error,omitempty"`
}

type rendered struct {
	Text  *string `json:"text,omitempty"`
	Error *string `json:"error,omitempty"`
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fail(fmt.Errorf("reading the request: %w", err))
	}
	var out any
	switch req.Op {
	case "parse":
		out = parse(req.Modelfiles)
	case "render":
		out = render(req)
	default:
		fail(fmt.Errorf("unknown op %q (parse or render)", req.Op))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func parse(texts []string) []parsed {
	results := make([]parsed, 0, len(texts))
	for _, text := range texts {
		f, err := parser.ParseFile(strings.NewReader(text))
		if err != nil {
			msg := err.Error()
			results = append(results, parsed{Error: &msg})
			continue
		}
		commands := make([]command, 0, len(f.Commands))
		for _, c := range f.Commands {
			commands = append(commands, command{Name: c.Name, Args: c.Args})
		}
		s := f.String()
		results = append(results, parsed{Commands: commands, String: &s})
	}
	return results
}

func render(req request) []rendered {
	results := make([]rendered, 0, len(req.Cases))
	tmpl, err := template.Parse(req.Template)
	for _, c := range req.Cases {
		if err != nil {
			msg := err.Error()
			results = append(results, rendered{Error: &msg})
			continue
		}
		messages := make([]api.Message, 0, len(c.Messages))
		for _, m := range c.Messages {
			messages = append(messages, api.Message{Role: m.Role, Content: m.Content, Thinking: m.Thinking})
		}
		var b strings.Builder
		values := template.Values{Messages: messages, Think: c.Think, IsThinkSet: c.IsThinkSet}
		if execErr := tmpl.Execute(&b, values); execErr != nil {
			msg := execErr.Error()
			results = append(results, rendered{Error: &msg})
			continue
		}
		text := b.String()
		results = append(results, rendered{Text: &text})
	}
	return results
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
