package test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
)

// logicalID is the template's logical ID of construct c (an L1, or an L2 whose default child is one).
func logicalID(t *testing.T, b *built, c constructs.IConstruct) string {
	t.Helper()
	id, ok := logicalIDIn(b.stack.Stack, c)
	if !ok {
		t.Fatalf("%s has no CloudFormation resource", *c.Node().Path())
	}
	return id
}

// logicalIDIn is logicalID for any stack; ok is false when c has no CloudFormation resource.
func logicalIDIn(stack awscdk.Stack, c constructs.IConstruct) (id string, ok bool) {
	el, ok := c.(awscdk.CfnElement)
	if !ok {
		el, ok = c.Node().DefaultChild().(awscdk.CfnElement)
	}
	if !ok {
		return "", false
	}
	return *stack.GetLogicalId(el), true
}

// resource returns the template entry of logical ID id, failing the test if it is missing.
func resource(t *testing.T, b *built, id string) map[string]any {
	t.Helper()
	res, ok := at(b.json, "Resources", id).(map[string]any)
	if !ok {
		t.Fatalf("resource %s is not in the template", id)
	}
	return res
}

// resourcesOfType returns the resources of a CloudFormation type, by logical ID.
func resourcesOfType(b *built, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, v := range b.json["Resources"].(map[string]any) {
		if res := v.(map[string]any); res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// at walks a decoded JSON value along keys (object keys, or list indexes as decimal strings).
// It returns nil where the path does not exist.
func at(v any, path ...string) any {
	for _, key := range path {
		switch node := v.(type) {
		case map[string]any:
			v = node[key]
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(node) {
				return nil
			}
			v = node[i]
		default:
			return nil
		}
	}
	return v
}

// path splits "Properties.LifecycleConfiguration.Rules.0" into keys for at.
func path(p string) []string { return strings.Split(p, ".") }

// expect compares the value at p in obj with want, after a JSON round trip of want (so an int
// compares equal to the float64 a template holds).
func expect(t *testing.T, obj map[string]any, p string, want any) {
	t.Helper()
	got := at(obj, path(p)...)
	if !reflect.DeepEqual(got, normalizeJSON(want)) {
		t.Errorf("%s = %s, want %s", p, show(got), show(want))
	}
}

func show(v any) string {
	if v == nil {
		return "<absent>"
	}
	return fmt.Sprintf("%#v", v)
}

// normalizeJSON gives v the shape encoding/json decodes templates into.
func normalizeJSON(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

// ref and getAtt build the intrinsic functions a template uses to point at a logical ID.
func ref(id string) map[string]any { return map[string]any{"Ref": id} }
func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

func reflectEqual(a, b any) bool { return reflect.DeepEqual(normalizeJSON(a), normalizeJSON(b)) }

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// expectOutput checks the stack output name has value.
func expectOutput(t *testing.T, b *built, name string, value any) {
	t.Helper()
	if got := at(b.json, "Outputs", name, "Value"); !reflectEqual(got, value) {
		t.Errorf("output %s = %s, want %s", name, show(got), show(value))
	}
}
