import IdaCLI

ensureBLASThreadTimeout()
IdamoeCommand.runReportingOneLine()
