"""Abbreviations that a period does not end, for the legal sentence splitter.

Derived from nupunkt 0.8.0's ``data/general_abbreviations.json`` and
``data/legal_abbreviations.json`` (ALEA Institute, MIT licence): court reporters, statutes, courts,
titles, months. Stored lower case without the final period ("f.supp", "u.s.c"),
one string so importing costs a single split.
"""

from __future__ import annotations

NUPUNKT_ABBREVIATIONS = frozenset(
    """
    a a.2d a.3d a.b.a.j a.d a.d.2d a.d.3d a.e.c a.f.rep a.f.t.r a.f.t.r.2d a.k a.l.r a.l.r.2d
    a.l.r.3d a.l.r.4th a.l.r.5th a.l.r.6th a.l.r.fed a.m a.m.c a.n a.n.c a.r a.rep abb abb.n.c
    abb.n.cas abb.p.r abb.pr.rep abb.prac abr abs acad ad add adj adm admin adv adv.s adver aff
    aff'd affd agric aik ak al ala ala.app alk all all.e.r alt am am.ann.cas am.dec am.j.comp.l
    am.j.int'l.l am.jur am.jur.2d am.negl.cas am.rep am.s.r am.st.r am.st.rep amer an ann ann.cas
    anon ant anth ap ap.2d app app.d.c app.div app.div.2d app.div.3d append approx apr apt apx arb
    arb.j arg ariz ariz.app ark ark.app art assn assoc at atl atl.r att'y att'y.gen aug auth auto av
    ave b b.a b.c b.c.d b.r b.s b.sc b.stockton b.t.a bai bai.eq bail bail.l baldw balt bank bankr
    bankr.ct.dec barb barb.s.c barn barr bat bax baxt bd bee ben bhd bigelow bin binn biss bk bl
    black blackf blatchf bldg ble.com blvd bond book bosw br brad bradf brayt brev broad brock bros
    brunn buch buchan buchanan bul bull bur burr bus bus.disp.guide busb busb.l c c.a c.a.r c.b
    c.b.c c.c c.c.a c.c.h c.c.l.j c.c.p.a c.d c.e.d c.f.r c.i.t c.j c.j.s c.m.a c.m.r c.o c.p c.p.d
    c.s c.z ca cai cai.cas.err cai.r cain cal cal.2d cal.3d cal.4th cal.app cal.app.2d cal.app.3d
    cal.app.4th cal.app.5th cal.app.supp cal.app.supp.2d cal.rptr cal.rptr.2d cal.rptr.3d cal.unrep
    cal.unrep.cas cald call cam can cap car car.law.repos carpenter carr cas cates cav cent ceo cf
    cfo ch ch.app ch.d ch.div ch.sent chand chandl charlt chase chem chest chev chev.ch chi
    chi.leg.n chip chip.d chip.n chit cin cir cit civ cl cl.ct cl.r cliff cmty cnty co co.ct co.inst
    coal cod codd code col col.cas col.j.envtl.l col.l.rev cold coldw cole cole.cas.pr colem.cas
    coll colo colo.app com comm commw comp comput coms con conc condo conf cong conj conn conn.app
    conn.cir.ct conn.sup conn.super.ct conn.supp conn.surr cons consol const const.s.c constr cont
    contra coo coombs coop copr.l.dec corp corr cow cow.n.y cox cp cr cr.app.r cra crabbe crim ct
    ct.app ct.cl ct.sup cto ctr cts cty curt cush cust cust.ct d d.a.r d.b.a d.c d.chipm d.conn
    d.del d.kan d.l.n d.mass d.md d.n.h d.n.j d.n.m d.nev d.or d.p.r d.r.i d.s.c d.s.d d.vt d.wash
    dak dal dall dall.dig dall.s.c dan dav day deady dec decr def del del.ch del.co del.co.rep
    del.supr dem dem.surr den dep dept des desaus desaus.eq det dev dev.l dig dill dir disc disp
    dist dist.rep distrib div doug dr dud dud.ch dud.l dudl duv e e.a.d e.d e.d.ark e.d.cal e.d.ill
    e.d.la e.d.mich e.d.mo e.d.n.c e.d.n.y e.d.pa e.d.tex e.d.va e.d.wash e.d.wis e.g e.h
    e.h.smith's e.r econ ed ed.c.r ed.ch edm edm.sel.ca educ edw elec elect emp empl empl.prac.dec
    eng enter envtl eq equal equip est et etc evid ex exch exec exp expl f f.2d f.3d f.4th f.app'x
    f.appx f.b.i.s f.c f.c.c f.c.c.2d f.cas f.l.r.a f.r f.r.d f.supp f.supp.2d f.supp.3d f.t.c f3d
    feb fed fed.app fed.app'x fed.appx fed.ca fed.cl fed.r fed.r.2d fed.r.3d fed.r.4th fed.r.app.p
    fed.r.civ.p fed.r.crim.p fed.r.evid fed.r.serv fed.r.serv.2d fed.r.serv.3d fed.reg fed.rep
    fed.rep.2d fed.rep.3d fed.rep.4th fed.res.bd fed.sent.r ff fid fig fin fish fl.s fla
    fla.dist.ct.app fla.supp fla.supp.2d flip flor fn fol found fr fran free freem fri ft fut g
    g.d.r ga ga.app gal gall gaz gen gend gil gild gildr gilm gilp glob gov't govt gr gratt grp guar
    h h.d.c h.l hall hand har hard hardes harp harp.l harr harring harv.j.l.pub.pol'y harv.l.rev
    hasb hask haw haw.app hay hayw hayw.n.c hayw.tenn haz hein heisk hemp hempst hen hil hill.n.y
    hilt hist hoff hoff.cha hoff.n.y hoffm hom hon hopk hosp hous houst how how.n.p how.p.r hr huds
    hugh hughes hum human humph hun hunts hwy i&ndec i.c.c i.c.c.2d i.e i.e.r i.r.b i.t.r.d ia ib
    ibid id ida idah idaho iii ill ill.2d ill.a ill.a.2d ill.a.3d ill.app ill.app.2d ill.app.3d
    ill.c.c ill.dec ill.decs ill.l.rev imp in inc incl ind ind.app ind.rep ind.t indem indep indus
    inf info init inj ins inst int inv iowa ired ired.l j j.ch j.j j.j.mar j.l.econ j.p jan jeff
    john johns johns.cas johns.ch johns.ch.cas johns.ct.err johns.n.y johns.rep jour jr jud jul jun
    jur juris just k.b kan kan.app kan.app.2d kans kans.app kas ken.dec ken.l.re ken.opin kg kir
    kirb ky ky.app ky.l.r ky.l.rptr ky.law.rep l l.c l.e l.e.2d l.ed l.ed.2d l.j l.j.q.b l.n l.r
    l.r.a l.r.a.n.s l.r.q.b l.r.r.m l.rev l.s l.t la la.a la.ann la.app lab lab.cas lack lack.jur
    lack.jurist lack.l.n lans lat law.ed lb ld.raym lea lead leg leg.gaz leg.int leg.rec legis liab
    lib lic life lit lit.rep lit.sel.ca litig litt ll ln loc loc.cit lock low lowell ltd lut luz
    luz.l.r m m.a m.d m.d.ala m.d.fla m.d.ga m.d.l.r m.d.la m.d.n.c m.d.pa m.d.tenn m.j m.s m.s.p.b
    m.s.p.r m.sc m.t.c.a m.t.c.r ma ma.a maca macar macarth mach mag mai maint mann manum mar marg
    marsh marsh.a.k marsh.j.j mart mart.dec mart.n.c marv mas mason mass mass.app mass.app.ct mba mc
    mca mcal mcall mcc mccah mcgl mclean mcmul md md.app me mech med mem memo mer merch met metc
    metc.ky metc.mass metro mfg mfr mgmt mgt mich mich.app mich.b.j mich.l.rev mills min minn
    minn.app mis misc misc.2d miss miss.l.j mkt mktg mo mo.app mo.app.rep mo.l.rev mod mon mon.b
    mon.t.b mona monag mont montg month mor.ia morr mortg mr mrs ms mt mun munf mur murph mut n n.b
    n.b.r n.c n.c.app n.c.conf n.c.conf.rep n.c.l.rev n.c.t.rep n.c.term.r n.c.term.rep n.chipm n.d
    n.d.app n.d.cal n.d.ill n.d.ind n.d.iowa n.d.n.y n.d.ohio n.d.tex n.e n.e.2d n.e.3d n.e.rep n.h
    n.h.r n.j n.j.eq n.j.l n.j.l.j n.j.law n.j.m n.j.s n.j.super n.j.tax n.l.r.b n.m n.m.app n.m.b
    n.p n.r.c n.s n.t.s.b n.w n.w.2.d n.w.2d n.w.2nd n.y n.y.2d n.y.3d n.y.ann.cas n.y.app.dec
    n.y.app.div n.y.cas.err n.y.ch.r.ann n.y.ch.sent n.y.civ.proc.r n.y.crim.r n.y.int.app n.y.j.l
    n.y.l.j n.y.s n.y.s.2d n.y.s.3d n.y.st.rep n.y.sup.ct n.y.super.ct n.y.supr.ct n.y.suprm.ct
    n.y.u.l.rev nat ne neb neb.app neb.app.r neb.c.a neg nev newb no nom nor northumb northumb.l.j
    northw.rep nos nov nr nw nw.u.l.rev o o.a.r o.a.r.2d o.a.r.3d o.app o.app.2d o.app.3d o.b.a.j
    o.b.r o.c.c o.c.c.n.s o.c.d o.cr o.d o.dec.rep o.g o.j o.l.a o.l.abs o.l.c o.misc o.misc.2d
    o.n.p o.n.p.n.s o.o o.o.2d o.o.3d o.r.w o.s o.s.2d o.s.3d o.s.c.d o.s.h.d o.s.u ob obl obs oct
    oh.a oh.a.2d oh.a.3d oh.app oh.app.2d oh.app.3d oh.cir.ct oh.cir.ct.n.s oh.cir.dec oh.dec oh.n.p
    oh.st okl okl.cr okla okla.cr okla.crim olc op op.att'y.gen ops.cal.atty.gen or or.a or.app ord
    ore oreg org orig os overt oz p p.2d p.3d p.a p.c.l.j p.c.r p.h p.l.m p.l.r p.m p.o.r p.r p.r.r
    p.s.r p.u.r p.u.r.3d p.u.r.4th pa pa.c pa.c.c pa.cas pa.cmwlth pa.co.ct pa.co.ct.r pa.commw.ct
    pa.corp pa.d.&c pa.d.&c.2d pa.d.&c.3d pa.d.&c.4th pa.d.&c.5th pa.dist pa.dist.r pa.rep pa.s
    pa.st pa.state pa.super pa.super.ct pac pac.r pac.rep pai pai.ch paine par para park parl pat
    pat.off.soc'y payt pears pelt pen penn penn.co.ct.rep penn.dist.rep penn.rep penn.st penn.st.r
    penne pennew pennewill penny pennyp pens per pers pet pet.s.c ph.d pharm phil phil.n.c phila
    phill pick pin pinn pitt.l.j pitts pitts.l.j pkwy pl plc plff plur port pow pp pr prac prec pref
    prep pres prin priv prob proc prod prod.liab.rep prof prop propr prot prov pt pub pub.l pvt
    pvt.l q q.b q.d q.e q.e.d q.s q.v qq qq.v qt quar quart que r r.i r.i.c.o r.i.op r.m r.p.c r.r
    rad rand raw rawl rd re reb rec redf ref reg reg.sess regs rehab rel rem rep reporter reports
    repos reprod repub res resp rest ret rev rev.code rich rich.eq.ch ril rob rob.consc.cas rob.la
    rob.va robb robbins rptr rpts rt rul ry s s.a s.c s.c.l s.c.r s.car s.ct s.d s.d.fla s.d.ga
    s.d.ill s.d.iowa s.d.miss s.d.n.y s.d.ohio s.d.tex s.d.w.va s.dak s.e s.e.2d s.e2.d s.p s.s
    s.t.b s.w s.w.2d s.w.3d sad.pa.cas sad.pa.cs sadl sand sand.chy sandf sandf.ch sandf.chy
    sar.ch.sen sarat sask sat sav saw sawy sc scam sch sci scil scr se sec sec.l.rep sect sel sent
    sep sept seq seqq ser serg series serv sess sh shan sic sick sig sil so so.2d so.3d so.c so.car
    soc soc.sec.rep.serv sol som som.l.j somersetl.j sou south sp sp.ch spec spec.app spr sprague sq
    sqq sr ss st st.rep stat ste stew sto stock story strob sts sub subcomm subd subj subpara subpt
    sum sumn sun sup sup.ct sup.ct.rep super supp supp.2d suppl supr supr.ct.rep supra sur surr sw
    sys t t.b t.c t.c.a t.c.m t.ct t.d t.r taney tapp tax tay tay.j.l tay.n.c tayl.n.c tbsp tech
    teiss tel telecomm temp ten tenn tenn.app tenn.cas tenn.crim.app ter term terr tex tex.a.civ
    tex.a.civ.cas tex.app tex.bankr.ct.rep tex.c.c tex.civ.app tex.civ.cas tex.cr tex.cr.app
    tex.cr.r tex.crim tex.crim.app tex.crim.rep tex.ct.app.dec.civ tex.ct.app.r tex.l.rev tex.s.ct
    thes thomp thu thur thurs thursd tiess tiff tit tpk tr trans transcon transp tread treas
    treas.reg tsp tuck tue tues twp tyl u u.c.c u.c.c.r.s u.chi.l.rev u.j u.pa.l.rev u.s u.s.a
    u.s.app.d.c u.s.c u.s.c.a u.s.c.c.a.n u.s.c.m.a u.s.c.s u.s.c.u u.s.l.ed u.s.l.ed.2d u.s.l.w
    u.s.law.ed u.s.p.q u.s.p.q.2d u.s.r u.s.s.c.rep ult un unconst unif univ unof unrep utah util
    uxor v v.g v.i v.r va va.app va.cir.ct va.dec va.l.rev var ver verm vet vet.app vict vill virg
    viz vol vp vr vroom vs vt w w.app w.d w.d.ark w.d.ky w.d.la w.d.mich w.d.mo w.d.n.y w.d.pa
    w.d.tex w.d.va w.d.wash w.l.b w.l.j w.l.m w.n.c w.r w.st w.t w.ty.r w.v w.va w.w w.w.h w.w.harr
    wa wa.a walk walk.miss walk.pa wall wall.rep wall.s.c ware wash wash.app wash.co wash.l.rev
    wash.st wash.t wash.ter wash.ter.n.s wash.terr wash.ty wash.va wed week wend west wh whar whart
    whart.pa wheat wheel will will.mass win wis wis.2d wkly wn wn.app woodb woods wool woolw works
    wy wyo y yea yer yerg york
    """.split()
)
