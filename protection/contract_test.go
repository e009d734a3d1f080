package protection

import (
	"encoding/json"
	"os"
	"testing"
)

// TestTemplateContract: what constructs/guard writes is what the handler reads. The guard cannot
// import this package (it would link the AWS SDK into the CDK app), so the contract is checked on
// the fixture's synthesized template: the load balancer's resource carries the property the
// handler reads, and both resources are served by a function in the handler's mode.
func TestTemplateContract(t *testing.T) {
	data, err := os.ReadFile("../test/testdata/Fixture-tls.template.json")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(data, &tmpl); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, kind := range []string{"Custom::StackProtection", "Custom::LoadBalancerProtection"} {
		n := 0
		for _, r := range tmpl.Resources {
			if r.Type != kind {
				continue
			}
			n++
			if _, ok := r.Properties[PropertyLoadBalancerArn]; (kind == "Custom::LoadBalancerProtection") != ok {
				t.Errorf("%s: %s present %v", kind, PropertyLoadBalancerArn, ok)
			}
			token, _ := r.Properties["ServiceToken"].(map[string]any)
			getAtt, _ := token["Fn::GetAtt"].([]any)
			if len(getAtt) != 2 {
				t.Fatalf("%s: ServiceToken %v, want Fn::GetAtt of the function", kind, r.Properties["ServiceToken"])
			}
			fn, _ := getAtt[0].(string)
			served[fn] = true
		}
		if n != 1 {
			t.Errorf("%d resources of type %s, want 1", n, kind)
		}
	}
	for fn := range served {
		env, _ := tmpl.Resources[fn].Properties["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if vars["DEPLOYER_MODE"] != Mode {
			t.Errorf("%s runs in DEPLOYER_MODE %v, want %q", fn, vars["DEPLOYER_MODE"], Mode)
		}
	}
}
