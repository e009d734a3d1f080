package test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var resourceType = regexp.MustCompile(`\b(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+|Custom::[A-Za-z0-9]+)\b`)

// TestDiagramMatchesTemplate keeps the pictures honest: every resource type the Mermaid diagrams
// of the README (the stack) and the architecture page (the stack's parts, the scale-in sequence)
// name must exist in the first environment's template.
func TestDiagramMatchesTemplate(t *testing.T) {
	var diagrams []string
	for _, file := range []string{"../README.md", "../docs/architecture.md"} {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		blocks := strings.Split(string(doc), "```mermaid")[1:]
		if len(blocks) == 0 {
			t.Errorf("%s has no Mermaid diagram", file)
		}
		for _, block := range blocks {
			diagrams = append(diagrams, strings.SplitN(block, "```", 2)[0])
		}
	}
	if len(diagrams) < 2 {
		t.Fatalf("%d Mermaid diagrams, want the stack and the scale-in sequence", len(diagrams))
	}
	types := map[string]bool{}
	for _, m := range resourceType.FindAllString(strings.Join(diagrams, "\n"), -1) {
		types[m] = true
	}
	if len(types) < 10 {
		t.Errorf("the diagram names %d resource types; it should show the stack's main resources", len(types))
	}
	b := envs[0]
	for typ := range types {
		if len(resourcesOfType(b, typ)) == 0 {
			t.Errorf("a diagram shows %s, which %s does not have", typ, *b.stack.StackName())
		}
	}
}
