package main

import (
	"github.com/spf13/cobra"

	"github.com/klp-audit/klp-audit/internal/driver"
)

func newPolicyCmd(s *Streams) *cobra.Command {
	var check string
	cmd := &cobra.Command{
		Use:   "policy [--check FILE]",
		Short: "Print the default safety-rules policy, or check a policy file",
		Long: `Print the policy klp-audit's safety rules use by default (YAML), as a
starting point for your own: copy it, change severities (must, review, off;
caller-assumptions also conditional, its default: a caller relying on a
changed function's body is needed only if the fix changes what it assumed),
per-IPA-pass settings of caller-assumptions, or add ignore entries (each needs
a justification a reviewer can check), and pass it to impacted with --policy.

With --check FILE, read the file as impacted would and report the first
problem with its file:line:col (unknown keys, rules, passes, severities, an
ignore entry without a justification).`,
		Example: `  klp-audit policy >my-policy.yaml
  klp-audit policy --check my-policy.yaml
  klp-audit impacted --build ~/linux --func css_put --policy my-policy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if check != "" {
				if _, err := driver.LoadPolicy(check); err != nil {
					return err
				}
				_, err := s.Out.Write([]byte(check + ": ok\n"))
				return err
			}
			_, err := s.Out.Write(driver.DefaultPolicyYAML())
			return err
		},
	}
	cmd.Flags().StringVar(&check, "check", "", "check policy `FILE` instead of printing the default")
	return cmd
}
