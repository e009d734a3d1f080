// Package fleet defines the web fleet: an internet-facing Application Load Balancer in front of
// an Auto Scaling group of Amazon Linux instances that run the CodeDeploy agent, with a
// least-privilege instance role and the instances' logs shipped to CloudWatch Logs.
package fleet

import (
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/example/codedeploy-fleet/constructs/fleet/userdata"
	"github.com/example/codedeploy-fleet/constructs/internal/retention"
	"github.com/example/codedeploy-fleet/constructs/removal"
)

// OS is the instances' operating system.
type OS = userdata.OS

// Supported operating systems. Both are x86_64 Amazon Linux, resolved at deploy time.
const (
	AmazonLinux2    = userdata.AmazonLinux2
	AmazonLinux2023 = userdata.AmazonLinux2023
)

// AppPort is the port the application listens on: the revision's httpd serves plain HTTP on 80
// and TLS ends at the load balancer.
const AppPort = 80

// Props configures a Fleet.
type Props struct {
	// Vpc with public subnets (load balancer) and private subnets with egress (instances). Required.
	Vpc awsec2.IVpc
	// AccessLogs receives the load balancer's access logs; it must use SSE-S3. Required.
	AccessLogs awss3.IBucket
	// LogGroupPrefix names the instances' log groups, e.g. "/MyWebApp/dev". Required.
	LogGroupPrefix string

	// OS of the instances. Default: AmazonLinux2 (end of support 2026-06-30: a warning says so).
	OS OS
	// InstanceType, an x86_64 type. Default: "t3.micro".
	InstanceType string
	// MinCapacity and MaxCapacity bound the group. Default: 1 and 2.
	MinCapacity, MaxCapacity int
	// DesiredCapacity, when set, is written into the template and reapplied on every deploy.
	// Default: nil (left out, so scaling decides and a deploy never scales the fleet in).
	DesiredCapacity *int
	// DetailedMonitoring turns on 1-minute instance metrics (billed). Default: false.
	DetailedMonitoring bool
	// RootVolumeGiB is the encrypted gp3 root volume's size. Default: 16.
	RootVolumeGiB int
	// CPUTargetPercent is the target-tracking scaling policy's average CPU. Default: 50.
	CPUTargetPercent int
	// HealthCheckGrace is how long a new instance may fail ELB health checks before it is
	// replaced: bootstrap plus its first deployment must fit in it. Default: 10 minutes.
	HealthCheckGrace time.Duration

	// AllowedCIDRs may reach the listeners. Default: ["0.0.0.0/0"].
	AllowedCIDRs []string
	// CertificateARN adds an HTTPS listener and turns HTTP into a redirect. Default: "" (HTTP only).
	CertificateARN string
	// HealthCheckPath is the target group's health check path. Default: "/".
	HealthCheckPath string
	// DeregistrationDelay is how long a deregistering instance keeps serving in-flight requests.
	// Every OneAtATime step waits this long in BlockTraffic. Default: 30 s (AWS's own is 300 s).
	DeregistrationDelay *time.Duration

	// LogRetentionDays of the instance log groups, a CloudWatch Logs retention value. Default: 90.
	LogRetentionDays int
	// Destroy removes log groups with the stack. Default: false (log groups retained unless the
	// stack's creation fails). The load balancer's deletion protection is not set here either way:
	// set in the template, it keeps a failed first create from rolling back (the rollback cannot
	// delete the load balancer). constructs/guard switches it on once the load balancer exists.
	Destroy bool
}

// Fleet is the load balancer, the Auto Scaling group and what they need.
type Fleet struct {
	constructs.Construct
	LoadBalancer awselasticloadbalancingv2.ApplicationLoadBalancer
	TargetGroup  awselasticloadbalancingv2.ApplicationTargetGroup
	Group        awsautoscaling.AutoScalingGroup
	// LaunchTemplate the group launches instances from.
	LaunchTemplate awsec2.LaunchTemplate
	// InstanceSecurityGroup is the instances' security group.
	InstanceSecurityGroup awsec2.SecurityGroup
	// Subnets the instances run in.
	Subnets []awsec2.ISubnet
	// Role is the instance role. Add deployment-specific permissions to it (the deployment
	// group's GetDeployment, revision reads) with grants on the resources they concern.
	Role awsiam.Role
	// LogGroups by the file they receive, e.g. "/var/log/aws/codedeploy-agent/codedeploy-agent.log".
	LogGroups map[string]awslogs.LogGroup
	https     bool
}

// shippedFiles are the instance logs that reach CloudWatch Logs, by log group suffix.
var shippedFiles = []struct{ suffix, file string }{
	{"codedeploy-agent", "/var/log/aws/codedeploy-agent/codedeploy-agent.log"},
	// Every hook script's output, across deployments (scripts.log lives under per-deployment folders).
	{"codedeploy-deployments", "/opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log"},
	{"user-data", "/var/log/user-data.log"},
	{"httpd-access", "/var/log/httpd/access_log"},
	{"httpd-error", "/var/log/httpd/error_log"},
}

// New defines the fleet.
func New(scope constructs.Construct, id string, props Props) *Fleet {
	p := withDefaults(id, props)
	f := &Fleet{LogGroups: map[string]awslogs.LogGroup{}, https: p.CertificateARN != ""}
	// Override makes the Go struct itself the construct, so it can be a scope for others.
	constructs.NewConstruct_Override(f, scope, jsii.String(id))
	region := *awscdk.Stack_Of(f).Region()
	if *awscdk.Token_IsUnresolved(jsii.String(region)) {
		panic(fmt.Sprintf("fleet.New(%s): the stack needs a concrete region (the user data names the agent's regional bucket)", id))
	}
	if p.OS == AmazonLinux2 {
		awscdk.Annotations_Of(f).AddWarningV2(jsii.String("fleet:amazon-linux-2-eol"), jsii.String(
			"Amazon Linux 2 reached end of support on 2026-06-30: no more security updates. "+
				`Set "os": "amazon-linux-2023" for this environment in cdk.json.`), nil)
	}

	f.Role = awsiam.NewRole(f, jsii.String("InstanceRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("Fleet instances: CodeDeploy agent, Session Manager, log shipping"),
	})
	f.grantAgentAndSessionManager(region)

	var shipped []userdata.ShippedLog
	for _, s := range shippedFiles {
		group := awslogs.NewLogGroup(f, jsii.String("Logs-"+s.suffix), &awslogs.LogGroupProps{
			LogGroupName: jsii.String(p.LogGroupPrefix + "/" + s.suffix),
			Retention:    retention.Days("fleet.New("+id+")", p.LogRetentionDays),
			// The names are fixed: a group retained by a failed first create would make the
			// next create fail with "already exists", so a create's rollback deletes them.
			RemovalPolicy: removal.RetainExceptOnCreate(p.Destroy),
		})
		// logs:CreateLogStream and logs:PutLogEvents on this group's streams only. The groups
		// exist, so the CloudWatch agent never needs CreateLogGroup.
		group.GrantWrite(f.Role)
		f.LogGroups[s.file] = group
		// The literal name, not group.LogGroupName() (a token): the user data stays a plain string
		// that tests can read and shellcheck. The dependency below orders creation instead.
		shipped = append(shipped, userdata.ShippedLog{File: s.file, LogGroup: p.LogGroupPrefix + "/" + s.suffix})
	}

	script, err := userdata.Render(userdata.Input{OS: p.OS, Region: region, Logs: shipped})
	if err != nil {
		panic(fmt.Sprintf("fleet.New(%s): %v", id, err))
	}

	albSG := awsec2.NewSecurityGroup(f, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         p.Vpc,
		Description: jsii.String("Load balancer: listeners open to the allowed CIDRs, egress only to the fleet"),
		// Egress is added per target by the listener: only the instances' app port.
		AllowAllOutbound: jsii.Bool(false),
	})
	listenerPorts := []int{80}
	if f.https {
		listenerPorts = append(listenerPorts, 443)
	}
	for _, cidr := range p.AllowedCIDRs {
		for _, port := range listenerPorts {
			albSG.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(cidr)), awsec2.Port_Tcp(jsii.Number(float64(port))),
				jsii.String(fmt.Sprintf("HTTP%s from %s", map[bool]string{true: "S", false: ""}[port == 443], cidr)), nil)
		}
	}
	if slices.Contains(p.AllowedCIDRs, "0.0.0.0/0") {
		cdknag.NagSuppressions_AddResourceSuppressions(albSG, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-EC23"),
			Reason: jsii.String("The load balancer serves a public website, so its listener ports are open to the " +
				"internet by configuration (loadBalancer.allowedCidrs). Nothing else is reachable: instances " +
				"accept only the app port, only from this security group."),
		}}, jsii.Bool(false))
	}

	instanceSG := awsec2.NewSecurityGroup(f, jsii.String("InstanceSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         p.Vpc,
		Description: jsii.String("Fleet instances: app port from the load balancer only; no SSH (use Session Manager)"),
		// Outbound HTTPS reaches CodeDeploy, S3, SSM and CloudWatch endpoints; outbound HTTP
		// reaches the Amazon Linux 2 package mirrors, which are served over plain HTTP (packages
		// are signed). Nothing else leaves the instance.
		AllowAllOutbound: jsii.Bool(false),
	})
	instanceSG.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS to AWS endpoints"), nil)
	instanceSG.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(80)), jsii.String("HTTP to package mirrors"), nil)

	image := awsec2.MachineImage_LatestAmazonLinux2(&awsec2.AmazonLinux2ImageSsmParameterProps{
		CpuType: awsec2.AmazonLinuxCpuType_X86_64,
	})
	if p.OS == AmazonLinux2023 {
		image = awsec2.MachineImage_LatestAmazonLinux2023(&awsec2.AmazonLinux2023ImageSsmParameterProps{
			CpuType: awsec2.AmazonLinuxCpuType_X86_64,
		})
	}
	f.InstanceSecurityGroup = instanceSG
	f.Subnets = *p.Vpc.SelectSubnets(&awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}).Subnets
	template := awsec2.NewLaunchTemplate(f, jsii.String("LaunchTemplate"), &awsec2.LaunchTemplateProps{
		// Resolved from the public SSM parameter when CloudFormation deploys: no lookup at synth.
		MachineImage:            image,
		InstanceType:            awsec2.NewInstanceType(jsii.String(p.InstanceType)),
		Role:                    f.Role,
		SecurityGroup:           instanceSG,
		UserData:                awsec2.UserData_Custom(jsii.String(script)),
		RequireImdsv2:           jsii.Bool(true),
		HttpTokens:              awsec2.LaunchTemplateHttpTokens_REQUIRED,
		HttpPutResponseHopLimit: jsii.Number(1), // nothing on the instance runs in a container
		DetailedMonitoring:      jsii.Bool(p.DetailedMonitoring),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/xvda"), // root device of both Amazon Linux AMIs
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(float64(p.RootVolumeGiB)), &awsec2.EbsDeviceOptions{
				VolumeType:          awsec2.EbsDeviceVolumeType_GP3,
				Encrypted:           jsii.Bool(true),
				DeleteOnTermination: jsii.Bool(true),
			}),
		}},
	})

	f.LaunchTemplate = template
	var desired *float64
	if p.DesiredCapacity != nil {
		desired = jsii.Number(float64(*p.DesiredCapacity))
	}
	f.Group = awsautoscaling.NewAutoScalingGroup(f, jsii.String("Group"), &awsautoscaling.AutoScalingGroupProps{
		Vpc:             p.Vpc,
		VpcSubnets:      &awsec2.SubnetSelection{Subnets: &f.Subnets},
		LaunchTemplate:  template,
		MinCapacity:     jsii.Number(float64(p.MinCapacity)),
		MaxCapacity:     jsii.Number(float64(p.MaxCapacity)),
		DesiredCapacity: desired,
		// In-service and desired counts for the dashboard; group metrics cost nothing.
		GroupMetrics: &[]awsautoscaling.GroupMetrics{awsautoscaling.NewGroupMetrics(
			awsautoscaling.GroupMetric_IN_SERVICE_INSTANCES(), awsautoscaling.GroupMetric_DESIRED_CAPACITY(),
		)},
		HealthChecks: awsautoscaling.HealthChecks_WithAdditionalChecks(&awsautoscaling.AdditionalHealthChecksOptions{
			AdditionalTypes: &[]awsautoscaling.AdditionalHealthCheckType{awsautoscaling.AdditionalHealthCheckType_ELB},
			GracePeriod:     awscdk.Duration_Seconds(jsii.Number(p.HealthCheckGrace.Seconds())),
		}),
		// A launch template change replaces instances gradually: new ones launch first (up to
		// double the fleet), get the current revision from CodeDeploy's launch hook, and only
		// then do old ones go, each through the termination hook.
		UpdatePolicy: awsautoscaling.UpdatePolicy_InstanceRefresh(&awsautoscaling.InstanceRefreshOptions{
			Strategy:             awsautoscaling.InstanceRefreshStrategy_ROLLING,
			MinHealthyPercentage: jsii.Number(100),
			MaxHealthyPercentage: jsii.Number(200),
			InstanceWarmup:       awscdk.Duration_Seconds(jsii.Number(p.HealthCheckGrace.Seconds())),
			SkipMatching:         jsii.Bool(true),
		}),
	})
	// Instances start only once their role's policies and their log groups exist: user data
	// downloads the agent with the role on first boot, and a missing permission there would cost
	// a retry loop at best.
	f.Group.Node().AddDependency(f.Role)
	for _, group := range f.LogGroups {
		f.Group.Node().AddDependency(group)
	}
	f.Group.ScaleOnCpuUtilization(jsii.String("CpuTarget"), &awsautoscaling.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(float64(p.CPUTargetPercent)),
	})

	f.LoadBalancer = awselasticloadbalancingv2.NewApplicationLoadBalancer(f, jsii.String("LoadBalancer"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc:                     p.Vpc,
		InternetFacing:          jsii.Bool(true),
		VpcSubnets:              &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		SecurityGroup:           albSG,
		DropInvalidHeaderFields: jsii.Bool(true),
	})
	// CDK writes "false" even when left unset; in the template, any value would overwrite what the
	// guard set whenever CloudFormation updates the attributes.
	f.LoadBalancer.RemoveAttribute(jsii.String("deletion_protection.enabled"))
	f.LoadBalancer.LogAccessLogs(p.AccessLogs, jsii.String("alb"))

	f.TargetGroup = awselasticloadbalancingv2.NewApplicationTargetGroup(f, jsii.String("TargetGroup"), &awselasticloadbalancingv2.ApplicationTargetGroupProps{
		Vpc:                 p.Vpc,
		Port:                jsii.Number(AppPort),
		Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		TargetType:          awselasticloadbalancingv2.TargetType_INSTANCE,
		Targets:             &[]awselasticloadbalancingv2.IApplicationLoadBalancerTarget{f.Group},
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(p.DeregistrationDelay.Seconds())),
		// In service after two passing checks 10 s apart (~20 s), out after two failures.
		HealthCheck: &awselasticloadbalancingv2.HealthCheck{
			Path:                    jsii.String(p.HealthCheckPath),
			Interval:                awscdk.Duration_Seconds(jsii.Number(10)),
			Timeout:                 awscdk.Duration_Seconds(jsii.Number(5)),
			HealthyThresholdCount:   jsii.Number(2),
			UnhealthyThresholdCount: jsii.Number(2),
			HealthyHttpCodes:        jsii.String("200"),
		},
	})

	if f.https {
		f.LoadBalancer.AddListener(jsii.String("Https"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:                jsii.Number(443),
			Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTPS,
			Certificates:        &[]awselasticloadbalancingv2.IListenerCertificate{awselasticloadbalancingv2.ListenerCertificate_FromArn(jsii.String(p.CertificateARN))},
			SslPolicy:           awselasticloadbalancingv2.SslPolicy_RECOMMENDED_TLS,
			DefaultTargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{f.TargetGroup},
			Open:                jsii.Bool(false), // ingress comes from AllowedCIDRs above
		})
		f.LoadBalancer.AddListener(jsii.String("Http"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:     jsii.Number(80),
			Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			Open:     jsii.Bool(false),
			DefaultAction: awselasticloadbalancingv2.ListenerAction_Redirect(&awselasticloadbalancingv2.RedirectOptions{
				Protocol: jsii.String("HTTPS"), Port: jsii.String("443"), Permanent: jsii.Bool(true),
			}),
		})
	} else {
		f.LoadBalancer.AddListener(jsii.String("Http"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:                jsii.Number(80),
			Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			DefaultTargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{f.TargetGroup},
			Open:                jsii.Bool(false),
		})
	}
	stableRuleIDs(instanceSG, albSG)
	return f
}

// stableRuleIDs renames the security group rules the load balancer wiring creates. CDK names
// them after the peer group's full construct path, which differs when the same stack is
// synthesized inside a pipeline stage; the new names depend only on the stack-relative logical
// IDs, so `cdk deploy` and the pipeline produce the same resources.
func stableRuleIDs(instanceSG, albSG awsec2.SecurityGroup) {
	stack := awscdk.Stack_Of(instanceSG)
	rename := func(sg awsec2.SecurityGroup, suffix string) {
		n := 0
		for _, child := range *sg.Node().Children() {
			el, isRule := child.(awscdk.CfnResource)
			if !isRule {
				continue
			}
			switch *el.CfnResourceType() {
			case "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress":
				n++
				id := *stack.GetLogicalId(sg.Node().DefaultChild().(awscdk.CfnElement)) + suffix
				if n > 1 {
					id += fmt.Sprint(n)
				}
				el.OverrideLogicalId(jsii.String(id))
			}
		}
	}
	rename(instanceSG, "FromLoadBalancer")
	rename(albSG, "ToInstances")
}

// SiteURL is the address users reach the application at.
func (f *Fleet) SiteURL() *string {
	scheme := "http"
	if f.https {
		scheme = "https"
	}
	return jsii.String(scheme + "://" + *f.LoadBalancer.LoadBalancerDnsName() + "/")
}

// grantAgentAndSessionManager gives the instance role what the platform software on every
// instance needs, whatever is deployed: the agent installer, Session Manager and Run Command.
func (f *Fleet) grantAgentAndSessionManager(region string) {
	stack := awscdk.Stack_Of(f)
	// The one object user data downloads; the installer then fetches the agent package anonymously.
	installer := fmt.Sprintf("arn:%s:s3:::aws-codedeploy-%s/latest/install", *stack.Partition(), region)
	f.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DownloadCodeDeployAgentInstaller"),
		Actions:   jsii.Strings("s3:GetObject"),
		Resources: jsii.Strings(installer),
	}))
	f.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("RegisterWithSystemsManager"),
		Actions: jsii.Strings("ssm:UpdateInstanceInformation"),
		// Instances register themselves; this account's and region's instances only.
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:ec2:%s:%s:instance/*", *stack.Partition(), region, *stack.Account())),
	}))
	f.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("SessionManagerAndRunCommandChannels"),
		// Session Manager (ssmmessages) and Run Command (ec2messages, for the operator scripts that
		// fetch logs) channels. Neither service supports resource-level permissions: "*" is the
		// only resource these actions accept.
		Actions: jsii.Strings(
			"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
			"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
			"ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
			"ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
		),
		Resources: jsii.Strings("*"),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(f.Role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("ssmmessages and ec2messages actions support no resource-level permissions (Service " +
			"Authorization Reference), so \"*\" is their only valid resource. ssm:UpdateInstanceInformation is " +
			"called by each instance for itself, whose ID is unknown at synthesis: it is limited to this " +
			"account's and region's instances."),
		AppliesTo: &[]any{
			"Resource::*",
			fmt.Sprintf("Resource::arn:%s:ec2:%s:%s:instance/*", *stack.Partition(), region, *stack.Account()),
		},
	}}, jsii.Bool(true))
}

func withDefaults(id string, p Props) Props {
	if p.Vpc == nil || p.AccessLogs == nil || p.LogGroupPrefix == "" {
		panic(fmt.Sprintf("fleet.New(%s): Props.Vpc, Props.AccessLogs and Props.LogGroupPrefix are required", id))
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if p.OS == "" {
		p.OS = AmazonLinux2
	}
	if p.InstanceType == "" {
		p.InstanceType = "t3.micro"
	}
	def(&p.MinCapacity, 1)
	def(&p.MaxCapacity, 2)
	def(&p.RootVolumeGiB, 16)
	def(&p.CPUTargetPercent, 50)
	def(&p.LogRetentionDays, 90)
	if p.HealthCheckGrace == 0 {
		p.HealthCheckGrace = 10 * time.Minute
	}
	if p.DeregistrationDelay == nil {
		d := 30 * time.Second
		p.DeregistrationDelay = &d
	}
	if len(p.AllowedCIDRs) == 0 {
		p.AllowedCIDRs = []string{"0.0.0.0/0"}
	}
	if p.HealthCheckPath == "" {
		p.HealthCheckPath = "/"
	}
	if p.MinCapacity > p.MaxCapacity {
		panic(fmt.Sprintf("fleet.New(%s): Props.MinCapacity %d is more than MaxCapacity %d", id, p.MinCapacity, p.MaxCapacity))
	}
	return p
}
