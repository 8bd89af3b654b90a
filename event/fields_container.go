package event

// hostID is container.id for processes outside any container, as in Falco.
const hostID = "host"

// ctrStr is a container metadata string: missing on the host and while the
// runtime has not answered for the container.
func ctrStr(name, desc string, fn func(c *Container) string) Field {
	return scoped(str(name, desc, func(e *Event) (string, bool) {
		if e.Container == nil || !e.Container.Known {
			return "", false
		}
		return nonEmpty(fn(e.Container))
	}))
}

func containerFields() []Field {
	return []Field{
		scoped(str("container.id", "Short (12 character) container id, or \"host\" outside containers.",
			func(e *Event) (string, bool) {
				if e.Container == nil {
					return hostID, true
				}
				return e.Container.ID, true
			})),
		scoped(str("container.full_id", "Full container id, or \"host\".",
			func(e *Event) (string, bool) {
				if e.Container == nil {
					return hostID, true
				}
				return e.Container.FullID, true
			})),
		scoped(str("container.name", "Container name, or \"host\".",
			func(e *Event) (string, bool) {
				if e.Container == nil {
					return hostID, true
				}
				return nonEmpty(e.Container.Name)
			})),
		scoped(str("container.type", "Container runtime: containerd, cri-o, docker, podman; \"host\" outside containers.",
			func(e *Event) (string, bool) {
				if e.Container == nil {
					return hostID, true
				}
				return nonEmpty(e.Container.Type)
			})),
		ctrStr("container.image", "Image reference the container was created from.", func(c *Container) string { return c.Image }),
		ctrStr("container.image.repository", "Repository part of the image reference.", func(c *Container) string { return c.ImageRepository }),
		ctrStr("container.image.tag", "Tag part of the image reference.", func(c *Container) string { return c.ImageTag }),
		ctrStr("container.image.digest", "Digest of the image.", func(c *Container) string { return c.ImageDigest }),
		scoped(boolean("container.privileged", "True for a privileged container.",
			func(e *Event) (bool, bool) {
				if e.Container == nil || !e.Container.Known {
					return false, false
				}
				return e.Container.Privileged, true
			})),
		num("container.start_ts", FieldAbsTime, "Container start time in nanoseconds since the epoch.",
			func(e *Event) (int64, bool) {
				if e.Container == nil || e.Container.StartTime == 0 {
					return 0, false
				}
				return e.Container.StartTime, true
			}),
		num("container.duration", FieldRelTime, "Nanoseconds since the container started.",
			func(e *Event) (int64, bool) {
				if e.Container == nil || e.Container.StartTime == 0 {
					return 0, false
				}
				return e.Time - e.Container.StartTime, true
			}),
		{
			Name: "container.label", Type: FieldString, Arg: ArgKey, ArgRequired: true,
			Desc: "Value of a container label: container.label[io.kubernetes.pod.name].",
			Str: func(e *Event, a Arg) (string, bool) {
				if e.Container == nil || !e.Container.Known {
					return "", false
				}
				v, ok := e.Container.Labels[a.Key]
				return v, ok
			},
		},
		ctrStr("k8s.ns.name", "Kubernetes namespace of the pod.", func(c *Container) string { return c.PodNamespace }),
		ctrStr("k8s.pod.name", "Kubernetes pod name.", func(c *Container) string { return c.PodName }),
		ctrStr("k8s.pod.uid", "Kubernetes pod uid.", func(c *Container) string { return c.PodUID }),
		alias(ctrStr("k8s.pod.id", "Kubernetes pod uid (deprecated Falco name of k8s.pod.uid).", func(c *Container) string { return c.PodUID })),
	}
}
