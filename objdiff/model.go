package objdiff

import "github.com/klp-audit/klp-audit/report"

// The comparison's model is the diff report of package report, where
// every verb's model lives; these names keep objdiff's own spelling.
type (
	Report       = report.DiffReport
	Summary      = report.DiffSummary
	ObjectStatus = report.ObjectStatus
	ObjectDiff   = report.ObjectDiff
	RenameKind   = report.RenameKind
	Rename       = report.Rename
	Ambiguity    = report.Ambiguity
	DataStatus   = report.DataStatus
	DataChange   = report.DataChange
	Function     = report.Function
	Reason       = report.DiffReason
	Change       = report.Change
	Difference   = report.Difference
	LineShift    = report.LineShift
	Problem      = report.DiffProblem
)

// SchemaVersion is the version of the YAML/JSON form of a Report.
const SchemaVersion = report.DiffSchemaVersion

// The values of the model's enumerations.
const (
	ObjectCompared   = report.ObjectCompared
	ObjectAdded      = report.ObjectAdded
	ObjectRemoved    = report.ObjectRemoved
	RenameFunction   = report.RenameFunction
	RenameData       = report.RenameData
	DataAdded        = report.DataAdded
	DataRemoved      = report.DataRemoved
	DataChanged      = report.DataChanged
	ReasonCode       = report.ReasonCode
	ReasonImmediate  = report.ReasonImmediate
	ReasonCold       = report.ReasonCold
	ReasonTable      = report.ReasonTable
	ReasonUnreadable = report.ReasonUnreadable
)
