package protection

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// template is a synthesized template's resources.
type template struct {
	Resources map[string]struct {
		Type       string
		Properties map[string]any
	}
}

func readTemplate(t *testing.T, name string) template {
	t.Helper()
	data, err := os.ReadFile("../test/testdata/" + name + ".template.json")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl template
	if err := json.Unmarshal(data, &tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestTemplateContract: what constructs/guard writes is what the handler reads. The guard cannot
// import this package (it would link the AWS SDK into the CDK app), so the contract is checked on
// the fixture's synthesized templates: the load balancer's resource carries the property the
// handler reads, both carry Protect ("true" for a retained environment, "false" for a throwaway
// one) and a service timeout, and both are served by a function in the handler's mode.
func TestTemplateContract(t *testing.T) {
	for name, protect := range map[string]string{"Fixture-prod": "true", "Fixture-dev": "false", "Fixture-tls": "true"} {
		tmpl := readTemplate(t, name)
		served := map[string]bool{}
		for _, kind := range []string{"Custom::StackProtection", "Custom::LoadBalancerProtection"} {
			n := 0
			for _, r := range tmpl.Resources {
				if r.Type != kind {
					continue
				}
				n++
				if _, ok := r.Properties[PropertyLoadBalancerArn]; (kind == "Custom::LoadBalancerProtection") != ok {
					t.Errorf("%s %s: %s present %v", name, kind, PropertyLoadBalancerArn, ok)
				}
				if got := r.Properties[PropertyProtect]; got != protect {
					t.Errorf("%s %s: %s %v, want %q", name, kind, PropertyProtect, got, protect)
				}
				if timeout, err := strconv.Atoi(fmt.Sprint(r.Properties["ServiceTimeout"])); err != nil || timeout < 60 || timeout > 600 {
					t.Errorf("%s %s: ServiceTimeout %v, want minutes, not the default hour", name, kind, r.Properties["ServiceTimeout"])
				}
				token, _ := r.Properties["ServiceToken"].(map[string]any)
				getAtt, _ := token["Fn::GetAtt"].([]any)
				if len(getAtt) != 2 {
					t.Fatalf("%s %s: ServiceToken %v, want Fn::GetAtt of the function", name, kind, r.Properties["ServiceToken"])
				}
				fn, _ := getAtt[0].(string)
				served[fn] = true
			}
			if n != 1 {
				t.Errorf("%s: %d resources of type %s, want 1", name, n, kind)
			}
		}
		for fn := range served {
			env, _ := tmpl.Resources[fn].Properties["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			if vars["DEPLOYER_MODE"] != Mode {
				t.Errorf("%s: %s runs in DEPLOYER_MODE %v, want %q", name, fn, vars["DEPLOYER_MODE"], Mode)
			}
		}
	}
}

// guardPolicy is the statement that lets the guard's function change a load balancer's
// attributes, as prod's synthesized template has it: its resource (the partition resolved to
// aws) and the tags its condition asks for.
func guardPolicy(t *testing.T) lbPolicy {
	t.Helper()
	tmpl := readTemplate(t, "Fixture-prod")
	var found []lbPolicy
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		doc, _ := r.Properties["PolicyDocument"].(map[string]any)
		statements, _ := doc["Statement"].([]any)
		for _, raw := range statements {
			st, _ := raw.(map[string]any)
			if st["Action"] != "elasticloadbalancing:ModifyLoadBalancerAttributes" || st["Effect"] != "Allow" {
				continue
			}
			p := lbPolicy{resource: resolve(t, st["Resource"]), tags: map[string]string{}}
			cond, _ := st["Condition"].(map[string]any)
			equals, _ := cond["StringEquals"].(map[string]any)
			for k, v := range equals {
				if tag, ok := strings.CutPrefix(k, "aws:ResourceTag/"); ok {
					p.tags[tag] = fmt.Sprint(v)
				}
			}
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d statements allow elasticloadbalancing:ModifyLoadBalancerAttributes in Fixture-prod, want the guard's one", len(found))
	}
	return found[0]
}

// resolve renders a template string: a literal, or an Fn::Join of literals and AWS::Partition.
func resolve(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if ref, ok := v["Ref"]; ok && ref == "AWS::Partition" {
			return "aws"
		}
		if join, ok := v["Fn::Join"].([]any); ok && len(join) == 2 {
			parts, _ := join[1].([]any)
			var b strings.Builder
			for _, part := range parts {
				b.WriteString(resolve(t, part))
			}
			return b.String()
		}
	}
	t.Fatalf("cannot resolve %v", v)
	return ""
}
