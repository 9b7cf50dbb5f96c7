// The classpath consumer's condition (the tiny golden model must be there, or the build fails with
// -Dphi3v.requireSharedData=true), evaluated with this script's variables.
return evaluate(new File(basedir, '../consumer/selector.groovy'))
