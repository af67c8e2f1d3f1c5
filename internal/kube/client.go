package kube

import (
	"context"
	"fmt"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// Client is the server's connection to the Kubernetes API server: the
// three APIs it uses (pods, TokenReview, SubjectAccessReview) and nothing
// else. It is built on REST clients with a scheme of those types only,
// not on client-go's clientset: the clientset's scheme registers every
// API group of Kubernetes when the process starts, which alone kept about
// 8 MiB of the binary resident (docs/performance.md). The three share one
// HTTP client and one rate limiter (--kube-qps, --kube-burst). Safe for
// concurrent use.
type Client struct {
	core, authn, authz *rest.RESTClient
	// base and http build further clients on the same connection and
	// rate limiter (Dynamic).
	base *rest.Config
	http *http.Client
}

// Pods lists and watches the pods of every namespace, as a clientset's
// CoreV1().Pods("") does.
type Pods interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// newClient builds the REST clients on cfg; it contacts no server.
func newClient(cfg *rest.Config) (*Client, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, authenticationv1.AddToScheme, authorizationv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("register Kubernetes types: %w", err)
		}
	}
	base := rest.CopyConfig(cfg)
	base.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if base.RateLimiter == nil && base.QPS > 0 {
		base.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(base.QPS, base.Burst)
	}
	httpClient, err := rest.HTTPClientFor(base)
	if err != nil {
		return nil, fmt.Errorf("build the HTTP client: %w", err)
	}
	restFor := func(apiPath string, gv schema.GroupVersion) (*rest.RESTClient, error) {
		c := rest.CopyConfig(base)
		c.APIPath, c.GroupVersion = apiPath, &gv
		return rest.RESTClientForConfigAndClient(c, httpClient)
	}
	kc := Client{base: base, http: httpClient}
	if kc.core, err = restFor("/api", corev1.SchemeGroupVersion); err != nil {
		return nil, err
	}
	if kc.authn, err = restFor("/apis", authenticationv1.SchemeGroupVersion); err != nil {
		return nil, err
	}
	if kc.authz, err = restFor("/apis", authorizationv1.SchemeGroupVersion); err != nil {
		return nil, err
	}
	return &kc, nil
}

// Dynamic returns a dynamic client on the same connection and rate
// limiter, for the custom resources the server reads (internal/crd). It
// registers no types, so it costs nothing until used.
func (c *Client) Dynamic() (dynamic.Interface, error) {
	d, err := dynamic.NewForConfigAndClient(c.base, c.http)
	if err != nil {
		return nil, fmt.Errorf("build the dynamic client: %w", err)
	}
	return d, nil
}

// Pods returns the pods of every namespace.
func (c *Client) Pods() Pods { return pods{c.core} }

// TokenReviews returns TokenReview creation, as a clientset's
// AuthenticationV1().TokenReviews().
func (c *Client) TokenReviews() Creator[*authenticationv1.TokenReview] {
	return Creator[*authenticationv1.TokenReview]{c.authn, "tokenreviews", func() *authenticationv1.TokenReview { return &authenticationv1.TokenReview{} }}
}

// AccessReviews returns SubjectAccessReview creation, as a clientset's
// AuthorizationV1().SubjectAccessReviews().
func (c *Client) AccessReviews() Creator[*authorizationv1.SubjectAccessReview] {
	return Creator[*authorizationv1.SubjectAccessReview]{c.authz, "subjectaccessreviews", func() *authorizationv1.SubjectAccessReview { return &authorizationv1.SubjectAccessReview{} }}
}

// pods is Pods on the core/v1 REST client, as the generated client does it.
type pods struct{ c *rest.RESTClient }

func (p pods) List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error) {
	var timeout time.Duration
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	out := &corev1.PodList{}
	err := p.c.Get().Resource("pods").VersionedParams(&opts, metav1.ParameterCodec).Timeout(timeout).Do(ctx).Into(out)
	return out, err
}

func (p pods) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	var timeout time.Duration
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	opts.Watch = true
	return p.c.Get().Resource("pods").VersionedParams(&opts, metav1.ParameterCodec).Timeout(timeout).Watch(ctx)
}

// Creator creates objects of one cluster-scoped resource, such as the
// reviews, which the API server answers in the object it returns.
type Creator[T runtime.Object] struct {
	c        *rest.RESTClient
	resource string
	newObj   func() T
}

// Create posts obj and returns the API server's answer.
func (c Creator[T]) Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error) {
	out := c.newObj()
	err := c.c.Post().Resource(c.resource).VersionedParams(&opts, metav1.ParameterCodec).Body(obj).Do(ctx).Into(out)
	return out, err
}
