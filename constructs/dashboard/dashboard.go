// Package dashboard defines an environment's CloudWatch dashboard: what an operator looks at
// first when a deployment, a scale-out or the site goes wrong.
package dashboard

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Props configures a Dashboard. Every field is required.
type Props struct {
	// Name of the dashboard, unique in the account and region.
	Name string
	// LoadBalancer and TargetGroup of the fleet.
	LoadBalancer awselasticloadbalancingv2.IApplicationLoadBalancer
	TargetGroup  awselasticloadbalancingv2.ApplicationTargetGroup
	// Group is the fleet's Auto Scaling group; it must collect GroupInServiceInstances and
	// GroupDesiredCapacity.
	Group awsautoscaling.AutoScalingGroup
	// Outcomes are the EventBridge rules that match each deployment outcome, by label
	// (e.g. "Succeeded"): CodeDeploy publishes no deployment metrics of its own, but EventBridge
	// counts each rule's matched events.
	Outcomes map[string]awsevents.IRule
	// Alarms are shown with their state.
	Alarms []interfacesawscloudwatch.IAlarmRef
}

// Dashboard is the CloudWatch dashboard.
type Dashboard struct {
	constructs.Construct
	Dashboard awscloudwatch.Dashboard
	url       string
}

// New defines the dashboard.
func New(scope constructs.Construct, id string, p Props) *Dashboard {
	if p.Name == "" || p.LoadBalancer == nil || p.TargetGroup == nil || p.Group == nil || len(p.Outcomes) == 0 {
		panic(fmt.Sprintf("dashboard.New(%s): Name, LoadBalancer, TargetGroup, Group and Outcomes are required", id))
	}
	d := &Dashboard{}
	constructs.NewConstruct_Override(d, scope, jsii.String(id))
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	sum := &awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}
	tg := p.TargetGroup.Metrics()

	var outcomes []awscloudwatch.IMetric
	for _, label := range []string{"Succeeded", "Failed", "Stopped"} {
		rule, ok := p.Outcomes[label]
		if !ok {
			continue
		}
		outcomes = append(outcomes, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/Events"), MetricName: jsii.String("MatchedEvents"),
			DimensionsMap: &map[string]*string{"RuleName": rule.RuleName()},
			Label:         jsii.String(label), Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(5)),
		}))
	}
	graph := func(title string, left []awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(8), Height: jsii.Number(6),
		})
	}
	groupMetric := func(name, l, statistic string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/AutoScaling"), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{"AutoScalingGroupName": p.Group.AutoScalingGroupName()},
			Label:         jsii.String(l), Statistic: jsii.String(statistic), Period: minute,
		})
	}
	label := func(m awscloudwatch.Metric, l string) awscloudwatch.IMetric {
		return m.With(&awscloudwatch.MetricOptions{Label: jsii.String(l)})
	}
	d.Dashboard = awscloudwatch.NewDashboard(d, jsii.String("Default"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(p.Name),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{
				graph("Deployments by outcome", outcomes),
				graph("Healthy and unhealthy hosts", []awscloudwatch.IMetric{
					label(tg.HealthyHostCount(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Minimum")}), "Healthy (min)"),
					label(tg.UnhealthyHostCount(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")}), "Unhealthy (max)"),
				}),
				// The gap between the two is a scale-out or scale-in under way, or one that is stuck.
				graph("In-service and desired instances", []awscloudwatch.IMetric{
					groupMetric("GroupInServiceInstances", "In service", "Minimum"),
					groupMetric("GroupDesiredCapacity", "Desired", "Maximum"),
				}),
			},
			{
				graph("5xx: load balancer and targets", []awscloudwatch.IMetric{
					label(p.LoadBalancer.Metrics().HttpCodeElb(awselasticloadbalancingv2.HttpCodeElb_ELB_5XX_COUNT, sum), "Load balancer 5xx"),
					label(tg.HttpCodeTarget(awselasticloadbalancingv2.HttpCodeTarget_TARGET_5XX_COUNT, sum), "Target 5xx"),
				}),
				graph("Response time p99 (s)", []awscloudwatch.IMetric{
					label(tg.TargetResponseTime(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("p99")}), "p99"),
				}),
				awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
					Title: jsii.String("Deployment alarms"), Alarms: &p.Alarms, Width: jsii.Number(8), Height: jsii.Number(6),
				}),
			},
		},
	})
	stack := awscdk.Stack_Of(d)
	d.url = fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#dashboards:name=%s",
		*stack.Region(), *stack.Region(), p.Name)
	return d
}

// URL is the dashboard's address in the CloudWatch console.
func (d *Dashboard) URL() string { return d.url }
