package test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var resourceType = regexp.MustCompile(`\b(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+|Custom::[A-Za-z0-9]+)\b`)

// TestDiagramMatchesTemplate keeps the README's picture honest: every resource type its Mermaid
// diagrams name must exist in the first environment's template.
func TestDiagramMatchesTemplate(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var diagrams []string
	for _, block := range strings.Split(string(readme), "```mermaid")[1:] {
		diagrams = append(diagrams, strings.SplitN(block, "```", 2)[0])
	}
	if len(diagrams) < 2 {
		t.Fatalf("README has %d Mermaid diagrams, want the stack and the scale-in sequence", len(diagrams))
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
			t.Errorf("the README diagram shows %s, which %s does not have", typ, *b.stack.StackName())
		}
	}
}
