// Package notifications defines an environment's operational SNS topic and the EventBridge rules
// that feed it (scaling failures, CodeDeploy state changes).
package notifications

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
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
		RemovalPolicy:     removal.Policy(props.Destroy),
	})
	// The EventBridge SNS target adds the key policy statement EventBridge needs (kms:Decrypt,
	// kms:GenerateDataKey* for events.amazonaws.com). It carries no aws:SourceAccount condition
	// because KMS key policies for EventBridge publishing to SNS do not support one (SNS developer
	// guide); the topic policy is what limits publishing.
	n.Topic = awssns.NewTopic(n, jsii.String("Default"), &awssns.TopicProps{
		MasterKey:  n.Key,
		EnforceSSL: jsii.Bool(true),
	})
	if props.Email != "" {
		n.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	}
	return n
}

// Forward adds an EventBridge rule that sends events matching pattern to the topic.
func (n *Notifications) Forward(id, description string, pattern *awsevents.EventPattern) awsevents.Rule {
	rule := awsevents.NewRule(n, jsii.String(id), &awsevents.RuleProps{
		Description:  jsii.String(description),
		EventPattern: pattern,
	})
	rule.AddTarget(awseventstargets.NewSnsTopic(n.Topic, nil))
	return rule
}
