// Package notifications defines an environment's operational SNS topic and the EventBridge rules
// that feed it (scaling failures, CodeDeploy state changes).
package notifications

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawsevents"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/example/codedeploy-fleet/constructs/removal"
)

// Props configures the notifications topic. The zero value is valid.
type Props struct {
	// Email, when set, subscribes this address (it must confirm the subscription). Default: none.
	Email string
	// Destroy removes the topic's key with the stack. Default: false (retained).
	Destroy bool
}

// Notifications is the topic and its key.
type Notifications struct {
	constructs.Construct
	Topic awssns.Topic
	Key   awskms.Key
}

// New defines the topic. Messages are encrypted with a customer-managed key: EventBridge can
// publish to a topic encrypted with it (it cannot with the AWS-managed alias/aws/sns key).
func New(scope constructs.Construct, id string, props Props) *Notifications {
	n := &Notifications{}
	constructs.NewConstruct_Override(n, scope, jsii.String(id))
	n.Key = awskms.NewKey(n, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the operational notifications topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removal.RetainExceptOnCreate(props.Destroy),
	})
	// Named, so the key policy can name it without a reference (the topic refers to the key).
	stack := awscdk.Stack_Of(n)
	name := *stack.StackName() + "-notifications"
	n.Topic = awssns.NewTopic(n, jsii.String("Default"), &awssns.TopicProps{
		TopicName:  jsii.String(name),
		MasterKey:  n.Key,
		EnforceSSL: jsii.Bool(true),
	})
	// EventBridge may encrypt with the key for this topic only (why not per rule: see Forward);
	// Forward grants the topic itself, per rule.
	topicArn := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("sns"), Resource: jsii.String(name),
		ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME})
	n.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("EncryptForThisTopicOnly"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"kms:EncryptionContext:aws:sns:topicArn": topicArn},
		},
	}), jsii.Bool(false))
	if props.Email != "" {
		n.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	}
	return n
}

// Forward adds an EventBridge rule that sends events matching pattern to the topic.
//
// EventBridge publishes as the service principal events.amazonaws.com, so the topic policy and
// the key policy must allow that principal. CDK's SnsTopic target allows it with no condition:
// any rule, in any account, could then publish here. The topic policy allows each rule instead,
// by its ARN (aws:SourceArn) and this account (aws:SourceAccount), the confused-deputy conditions
// AWS recommends for service principals (IAM user guide, "The confused deputy problem"). The key
// policy cannot use those two: the SNS developer guide's key management page says they are not
// supported in a KMS key policy for EventBridge publishing to an encrypted topic, and a
// condition the request does not carry would drop every notification. It holds the key to this
// topic instead, through the encryption context SNS sets on every data key
// (kms:EncryptionContext:aws:sns:topicArn), so the grant is useless for any other topic.
func (n *Notifications) Forward(id, description string, pattern *awsevents.EventPattern) awsevents.Rule {
	stack := awscdk.Stack_Of(n)
	rule := awsevents.NewRule(n, jsii.String(id), &awsevents.RuleProps{
		Description:  jsii.String(description),
		EventPattern: pattern,
	})
	rule.AddTarget(&topicTarget{topic: n.Topic})
	events := awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)
	fromThisRule := map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		"ArnEquals":    map[string]any{"aws:SourceArn": rule.RuleArn()},
	}
	n.Topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PublishFrom" + id),
		Principals: &[]awsiam.IPrincipal{events},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*n.Topic.TopicArn()),
		Conditions: &fromThisRule,
	}))
	return rule
}

// topicTarget sends a rule's events to the topic and grants nothing itself: Forward writes the
// conditional policies. (awseventstargets.SnsTopic would add an unconditional grant.)
type topicTarget struct{ topic awssns.ITopic }

// Bind implements awsevents.IRuleTarget.
func (t *topicTarget) Bind(_ interfacesawsevents.IRuleRef, _ *string) *awsevents.RuleTargetConfig {
	return &awsevents.RuleTargetConfig{Arn: t.topic.TopicArn()}
}
