package action

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
	"github.com/microservices-manifests/microservices-manifests/pkg/catalog"
	"github.com/microservices-manifests/microservices-manifests/pkg/diff"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// maxFindingsInComment bounds the findings listed in the comment (all are annotations).
const maxFindingsInComment = 50

// CommentBody composes the sticky comment within limit characters: the marker, the
// validation result, the catalog (collapsed), then the manifest diff, which gets whatever
// room is left and collapses or drops object diffs to fit. Everything from the repository
// is escaped for its place (package escape): a name cannot close the comment's <details>,
// open an HTML comment that hides what follows, fake the marker outside code, mention a
// team or add an image.
func CommentBody(res *PlanResult, limit int) string {
	var head strings.Builder
	head.WriteString(Marker + "\n## Plan\n\n")
	rep := res.Report
	if rep.Failed() {
		fmt.Fprintf(&head, "> [!CAUTION]\n> Validation failed: %s. The plan was **not** committed.\n\n", rep.Summary())
		n := 0
		var findings strings.Builder
		for _, f := range rep.Findings {
			if f.Severity != report.Error {
				continue
			}
			if n == maxFindingsInComment {
				fmt.Fprintf(&findings, "... and %d more (see the annotations)\n", rep.Count(report.Error)-n)
				break
			}
			// Finding.String is one line, escaped; the fence is longer than any run of
			// backticks a message holds.
			findings.WriteString(f.String() + "\n")
			n++
		}
		head.WriteString(escape.Fenced("", findings.String()) + "\n")
	} else {
		dirs := make([]string, 0, len(res.Envs))
		for _, env := range res.Envs {
			dirs = append(dirs, escape.Code(PlanDir+"/"+env+"/"))
		}
		fmt.Fprintf(&head, "Validated: %s. The plan is in %s (%d files).\n\n", rep.Summary(), strings.Join(dirs, ", "), len(res.Files))
	}

	var tail strings.Builder
	if res.Catalog != nil {
		tail.WriteString("\n<details><summary>Service catalog</summary>\n\n")
		tail.WriteString(catalog.Markdown(res.Catalog))
		tail.WriteString("\n</details>\n")
	}
	tail.WriteString("\n<sub>Written by `platform plan`; this comment is updated in place on every push.</sub>\n")

	body := head.String()
	room := limit - len(body) - len(tail.String())
	if res.Diff != nil && room > 0 {
		body += diff.Markdown(res.Diff, room)
	} else if res.Diff == nil {
		body += "No base revision: no manifest diff.\n"
	}
	body += tail.String()
	if len(body) > limit {
		// Only a huge catalog or findings list gets here. The cut is on a character
		// boundary: GitHub refuses invalid UTF-8.
		cut := limit - len("\n…\n")
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		body = body[:cut] + "\n…\n"
	}
	return body
}
