// Package network defines an environment's VPC: public subnets for the load balancer, private
// subnets with NAT egress for the instances, an S3 gateway endpoint and flow logs.
package network

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/example/codedeploy-fleet/constructs/internal/retention"
	"github.com/example/codedeploy-fleet/constructs/removal"
)

// Props configures the VPC.
type Props struct {
	// AvailabilityZones to spread the subnets over. Required: listing them keeps synthesis free of
	// account lookups.
	AvailabilityZones []string
	// CIDR of the VPC. Default: "10.0.0.0/16".
	CIDR string
	// NATGateways is how many NAT gateways serve the private subnets, from 1 (cheapest) to one
	// per zone (survives a zone outage). Default: 1.
	NATGateways int
	// FlowLogRetentionDays is how long VPC flow logs are kept; a CloudWatch Logs retention value.
	// Default: 90.
	FlowLogRetentionDays int
	// Destroy removes the flow log group with the stack. Default: false (retained).
	Destroy bool
}

// New defines the VPC. It is a plain awsec2.Vpc: the flow log and the endpoint are its children.
func New(scope constructs.Construct, id string, props Props) awsec2.Vpc {
	if len(props.AvailabilityZones) == 0 {
		panic(fmt.Sprintf("network.New(%s): Props.AvailabilityZones is empty; list the zones to use", id))
	}
	cidr := props.CIDR
	if cidr == "" {
		cidr = "10.0.0.0/16"
	}
	nat := props.NATGateways
	if nat == 0 {
		nat = 1
	}
	days := props.FlowLogRetentionDays
	if days == 0 {
		days = 90
	}

	vpc := awsec2.NewVpc(scope, jsii.String(id), &awsec2.VpcProps{
		IpAddresses:       awsec2.IpAddresses_Cidr(jsii.String(cidr)),
		AvailabilityZones: jsii.Strings(props.AvailabilityZones...),
		NatGateways:       jsii.Number(float64(nat)),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			// Only the load balancer and the NAT gateways live here.
			{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("Private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
		},
		// Revision downloads, the agent installer and Amazon Linux package repositories are all S3:
		// the gateway endpoint keeps that traffic off the NAT gateways (free, and faster).
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
		},
		RestrictDefaultSecurityGroup: jsii.Bool(true),
	})
	logs := awslogs.NewLogGroup(vpc, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		Retention:     retention.Days("network.New("+id+")", days),
		RemovalPolicy: removal.RetainExceptOnCreate(props.Destroy),
	})
	vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(logs, nil),
		TrafficType: awsec2.FlowLogTrafficType_ALL,
	})
	return vpc
}
