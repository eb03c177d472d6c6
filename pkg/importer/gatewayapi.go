package importer

import "go.yaml.in/yaml/v3"

// The types in this file mirror the Kubernetes Gateway API HTTPRoute of
// gateway.networking.k8s.io/v1, standard and experimental channels, for
// strict decoding. Fields that routecast does not use, or that a filter
// type routecast does not support holds, are *yaml.Node: accepted with any
// content and not checked.

type httpRoute struct {
	APIVersion string        `yaml:"apiVersion"`
	Kind       string        `yaml:"kind"`
	Metadata   objectMeta    `yaml:"metadata"`
	Spec       httpRouteSpec `yaml:"spec"`
	Status     *yaml.Node    `yaml:"status"`
}

// objectMeta is Kubernetes object metadata, as written by people or by
// kubectl get -o yaml.
type objectMeta struct {
	Name                       string            `yaml:"name"`
	Namespace                  string            `yaml:"namespace"`
	Labels                     map[string]string `yaml:"labels"`
	Annotations                map[string]string `yaml:"annotations"`
	GenerateName               *yaml.Node        `yaml:"generateName"`
	UID                        *yaml.Node        `yaml:"uid"`
	ResourceVersion            *yaml.Node        `yaml:"resourceVersion"`
	Generation                 *yaml.Node        `yaml:"generation"`
	CreationTimestamp          *yaml.Node        `yaml:"creationTimestamp"`
	DeletionTimestamp          *yaml.Node        `yaml:"deletionTimestamp"`
	DeletionGracePeriodSeconds *yaml.Node        `yaml:"deletionGracePeriodSeconds"`
	OwnerReferences            *yaml.Node        `yaml:"ownerReferences"`
	Finalizers                 *yaml.Node        `yaml:"finalizers"`
	ManagedFields              *yaml.Node        `yaml:"managedFields"`
	SelfLink                   *yaml.Node        `yaml:"selfLink"`
}

type httpRouteSpec struct {
	ParentRefs []parentReference `yaml:"parentRefs"`
	Hostnames  []string          `yaml:"hostnames"`
	Rules      []httpRouteRule   `yaml:"rules"`
}

// parentReference names the Gateway a route attaches to. routecast does not
// use it, but checks its fields.
type parentReference struct {
	Group       string `yaml:"group"`
	Kind        string `yaml:"kind"`
	Namespace   string `yaml:"namespace"`
	Name        string `yaml:"name"`
	SectionName string `yaml:"sectionName"`
	Port        *int32 `yaml:"port"`
}

type httpRouteRule struct {
	Name               string             `yaml:"name"`
	Matches            []httpRouteMatch   `yaml:"matches"`
	Filters            []httpRouteFilter  `yaml:"filters"`
	BackendRefs        []httpBackendRef   `yaml:"backendRefs"`
	Timeouts           *httpRouteTimeouts `yaml:"timeouts"`
	Retry              *httpRouteRetry    `yaml:"retry"`
	SessionPersistence *yaml.Node         `yaml:"sessionPersistence"`
}

type httpRouteMatch struct {
	Path        *httpPathMatch `yaml:"path"`
	Headers     []httpKeyMatch `yaml:"headers"`
	QueryParams []httpKeyMatch `yaml:"queryParams"`
	Method      string         `yaml:"method"`
}

type httpPathMatch struct {
	Type  string `yaml:"type"`
	Value string `yaml:"value"`
}

// httpKeyMatch is a header or query parameter match.
type httpKeyMatch struct {
	Type  string `yaml:"type"`
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type httpRouteFilter struct {
	Type                   string               `yaml:"type"`
	RequestHeaderModifier  *httpHeaderFilter    `yaml:"requestHeaderModifier"`
	ResponseHeaderModifier *httpHeaderFilter    `yaml:"responseHeaderModifier"`
	RequestMirror          *yaml.Node           `yaml:"requestMirror"`
	RequestRedirect        *httpRequestRedirect `yaml:"requestRedirect"`
	URLRewrite             *httpURLRewrite      `yaml:"urlRewrite"`
	ExtensionRef           *yaml.Node           `yaml:"extensionRef"`
	CORS                   *yaml.Node           `yaml:"cors"`
	ExternalAuth           *yaml.Node           `yaml:"externalAuth"`
}

type httpHeaderFilter struct {
	Set    []httpHeader `yaml:"set"`
	Add    []httpHeader `yaml:"add"`
	Remove []string     `yaml:"remove"`
}

type httpHeader struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type httpRequestRedirect struct {
	Scheme     string            `yaml:"scheme"`
	Hostname   string            `yaml:"hostname"`
	Path       *httpPathModifier `yaml:"path"`
	Port       *int32            `yaml:"port"`
	StatusCode *int32            `yaml:"statusCode"`
}

type httpURLRewrite struct {
	Hostname string            `yaml:"hostname"`
	Path     *httpPathModifier `yaml:"path"`
}

type httpPathModifier struct {
	Type               string  `yaml:"type"`
	ReplaceFullPath    *string `yaml:"replaceFullPath"`
	ReplacePrefixMatch *string `yaml:"replacePrefixMatch"`
}

type httpBackendRef struct {
	Group     *string           `yaml:"group"`
	Kind      *string           `yaml:"kind"`
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Port      *int32            `yaml:"port"`
	Weight    *int32            `yaml:"weight"`
	Filters   []httpRouteFilter `yaml:"filters"`
}

type httpRouteTimeouts struct {
	Request        *string `yaml:"request"`
	BackendRequest *string `yaml:"backendRequest"`
}

type httpRouteRetry struct {
	Codes    []int32    `yaml:"codes"`
	Attempts *int32     `yaml:"attempts"`
	Backoff  *yaml.Node `yaml:"backoff"`
}
